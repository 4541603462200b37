"""The page's pieces without a browser: the pinned Chart.js and its SRI hash, the HTML (no inline
script or style), the Content-Security-Policy, the JavaScript's sinks, and the read side's copy
of the table definitions checked against the one the writers use."""

import base64
import hashlib
import html.parser
import json
import re

import pytest

from spotify_assets import constants
from spotify_assets.aws.tables import ALL_TABLES, SERVING_TABLES
from spotify_assets.io_managers.serving import serving_schema
from spotify_assets.sql import dashboard as sql_dashboard
from spotify_assets.transforms import schema
from spotify_assets.web import dashboard_files, tables
from spotify_assets.web.page import (
    CHART_JS_CDN_URL,
    CHART_JS_FILE,
    CHART_JS_INTEGRITY,
    CHART_JS_VENDOR_PATH,
    CHART_JS_VERSION,
    PAGE_TEMPLATE,
    SCRIPT_MARKER,
    STATIC_DIR,
    WEB_DIR,
    Script,
    chart_js_installed,
    chart_js_script,
    content_security_policy,
    render_page,
)

# --- Chart.js: pinned once, the same everywhere ----------------------------------------------


def test_chart_js_is_pinned_to_one_exact_version_in_package_json_and_its_lock():
    package = json.loads((WEB_DIR / "package.json").read_text())
    assert package["dependencies"] == {"chart.js": CHART_JS_VERSION}  # exact: no ^ or ~
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == {"chart.js": CHART_JS_VERSION}
    locked = lock["packages"]["node_modules/chart.js"]
    assert locked["version"] == CHART_JS_VERSION
    assert locked["integrity"].startswith("sha512-")
    assert f"chart.js@{CHART_JS_VERSION}/dist/{CHART_JS_FILE}" in CHART_JS_CDN_URL
    assert f"chart.js@{CHART_JS_VERSION}/{CHART_JS_FILE}" in CHART_JS_VENDOR_PATH


def test_the_sri_hash_is_the_installed_files():
    installed = chart_js_installed()
    if installed is None:
        pytest.skip("Chart.js is not installed here (npm ci in spotify_assets/web)")
    digest = base64.b64encode(hashlib.sha384(installed.read_bytes()).digest()).decode()
    assert f"sha384-{digest}" == CHART_JS_INTEGRITY
    assert f"Chart.js v{CHART_JS_VERSION}" in installed.read_text()[:200]


def test_the_page_takes_chart_js_from_npm_where_installed_else_from_the_cdn(tmp_path):
    assert chart_js_script(tmp_path) == Script(CHART_JS_CDN_URL, CHART_JS_INTEGRITY)
    (tmp_path / CHART_JS_FILE).write_text("/* installed */")
    assert chart_js_script(tmp_path) == Script(CHART_JS_VENDOR_PATH, CHART_JS_INTEGRITY)


def test_the_js_is_never_copied_into_the_repository():
    copies = [
        path
        for path in WEB_DIR.rglob("*.js")
        if "node_modules" not in path.parts and path.read_bytes().startswith(b"/*!\n * Chart.js")
    ]
    assert copies == []
    assert (WEB_DIR / ".gitignore").read_text().split() == ["node_modules/"]


# --- the HTML: scripts by URL only, every one with its integrity hash ------------------------


class Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data.strip()


@pytest.mark.parametrize("url", [CHART_JS_VENDOR_PATH, CHART_JS_CDN_URL])
def test_the_page_has_no_inline_script_or_style(url):
    parser = Elements()
    parser.feed(render_page(Script(url, CHART_JS_INTEGRITY)))
    scripts = [attrs for tag, attrs in parser.elements if tag == "script"]
    assert [s["src"] for s in scripts] == [url, "/static/app.js"]
    assert scripts[0]["integrity"] == CHART_JS_INTEGRITY
    assert (scripts[0].get("crossorigin") == "anonymous") == url.startswith("https://")
    assert parser.script_text == ""
    assert not [tag for tag, _ in parser.elements if tag == "style"]
    for tag, attrs in parser.elements:
        assert not [name for name in attrs if name.startswith("on") or name == "style"], tag


def test_the_template_needs_its_marker_once():
    assert PAGE_TEMPLATE.read_text().count(SCRIPT_MARKER) == 1
    with pytest.raises(ValueError, match="exactly once"):
        render_page(Script(CHART_JS_VENDOR_PATH, CHART_JS_INTEGRITY), template="<html></html>")


def test_the_content_security_policy_allows_no_inline_code():
    local = content_security_policy(Script(CHART_JS_VENDOR_PATH, CHART_JS_INTEGRITY))
    directives = dict(d.split(" ", 1) for d in local.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in local
    cdn = content_security_policy(
        Script(CHART_JS_CDN_URL, CHART_JS_INTEGRITY), ("https://auth.example.test",)
    )
    cdn_directives = dict(d.split(" ", 1) for d in cdn.split("; "))
    # The one CDN file, not the CDN.
    assert cdn_directives["script-src"] == f"'self' {CHART_JS_CDN_URL}"
    assert cdn_directives["connect-src"] == "'self' https://auth.example.test"


# --- the JavaScript: names only ever as text ---------------------------------------------------

HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"setTimeout\(\s*[\"'`]|setInterval\(\s*[\"'`]|createContextualFragment|\.srcdoc|DOMParser"
)


def test_the_page_script_uses_no_html_sink():
    script = (STATIC_DIR / "app.js").read_text()
    assert HTML_SINKS.findall(script) == []
    assert "textContent" in script


# --- the read side's copy of the table definitions ---------------------------------------------


def test_the_columns_are_the_serving_tables_columns():
    kinds = {schema.TIMESTAMP: tables.TIMESTAMP}
    for table, columns in tables.COLUMNS.items():
        expected = {}
        for field in serving_schema(table):
            if field.name in (tables.PLAYLIST_ID, tables.SNAPSHOT_ID):
                continue
            if field.type in kinds:
                expected[field.name] = kinds[field.type]
            elif str(field.type) == "bool":
                expected[field.name] = tables.BOOLEAN
            elif str(field.type) == "int64":
                expected[field.name] = tables.INTEGER
            else:
                expected[field.name] = tables.STRING
        assert columns == expected, table
    assert set(tables.COLUMNS) == set(constants.SERVING_TABLES)


def test_the_keys_indexes_and_names_are_the_dynamodb_tables():
    for table, definition in SERVING_TABLES.items():
        if table != constants.PLAYLIST_ENTRIES:
            assert definition.key_names == (tables.ENTITY_KEYS[table],)
        for index in definition.indexes:
            assert tables.INDEXES[(table, index.partition_key.name)] == index.name
            assert index.projection == "ALL"  # the API returns whole rows from an index
        assert tables.table_name("p_", table) == definition.table_name("p_")
    assert len(tables.INDEXES) == sum(len(t.indexes) for t in SERVING_TABLES.values())
    assert tables.PLAYLIST_VERSIONS in ALL_TABLES
    assert SERVING_TABLES[constants.PLAYLIST_ENTRIES].key_names == (
        tables.PLAYLIST_ID,
        tables.POSITION,
    )


def test_the_dashboard_file_names_are_the_analytics_assets():
    assert dashboard_files.DASHBOARD_FOLDER == sql_dashboard.DASHBOARD_FOLDER
    assert dashboard_files.INDEX_FILE == sql_dashboard.INDEX_FILE


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1794204000000, "2026-11-09T06:00:00Z"),
        (1500, "1970-01-01T00:00:01.500Z"),
    ],
)
def test_timestamps_are_iso_8601_in_utc(epoch_ms, text):
    assert tables.iso_timestamp(epoch_ms) == text
