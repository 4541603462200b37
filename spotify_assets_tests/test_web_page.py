"""The page's pieces without a browser: the shipped Chart.js (the npm lock's file, its SRI hash and
license), the HTML (no inline script or style), the Content-Security-Policy, the JavaScript's
sinks, and the read side's copy of the table definitions checked against the one the writers
use."""

import base64
import hashlib
import html.parser
import json
import re

import pytest

from spotify_assets import constants
from spotify_assets.aws.tables import ALL_TABLES, SERVING_TABLES
from spotify_assets.io_managers.serving import serving_schema
from spotify_assets.transforms import schema
from spotify_assets.web import tables
from spotify_assets.web.page import (
    CHART_JS_FILE,
    CHART_JS_INTEGRITY,
    CHART_JS_LICENSE,
    CHART_JS_URL,
    CHART_JS_VERSION,
    PAGE_TEMPLATE,
    SCRIPT_MARKER,
    STATIC_DIR,
    WEB_DIR,
    content_security_policy,
    render_page,
    static_files,
)
from spotify_assets_tests.web_support import unavailable

NPM_CHART_JS = WEB_DIR / "node_modules" / "chart.js"

# --- Chart.js: shipped in the package, the very file npm's lock pins -------------------------


def test_chart_js_is_pinned_to_one_exact_version_in_package_json_and_its_lock():
    package = json.loads((WEB_DIR / "package.json").read_text())
    assert package["dependencies"] == {"chart.js": CHART_JS_VERSION}  # exact: no ^ or ~
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == {"chart.js": CHART_JS_VERSION}
    locked = lock["packages"]["node_modules/chart.js"]
    assert locked["version"] == CHART_JS_VERSION
    assert locked["integrity"].startswith("sha512-")


def test_the_shipped_chart_js_is_the_file_npm_ci_installs_from_the_lock():
    # The lock's integrity is the npm tarball's: `npm ci` checks the tarball against it, and
    # this test then compares the file it unpacked with the one shipped.
    if not NPM_CHART_JS.is_dir():
        unavailable("Chart.js is not installed by npm here: npm ci in spotify_assets/web")
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    installed = json.loads((NPM_CHART_JS / "package.json").read_text())
    assert installed["version"] == lock["packages"]["node_modules/chart.js"]["version"]
    assert CHART_JS_FILE.read_bytes() == (NPM_CHART_JS / "dist" / CHART_JS_FILE.name).read_bytes()
    license_text = CHART_JS_LICENSE.read_text()
    for package in (NPM_CHART_JS, WEB_DIR / "node_modules" / "@kurkle" / "color"):
        assert (package / "LICENSE.md").read_text().strip() in license_text, package


def test_the_shipped_chart_js_has_the_sri_hash_and_its_license():
    data = CHART_JS_FILE.read_bytes()
    digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert f"sha384-{digest}" == CHART_JS_INTEGRITY
    assert f"Chart.js v{CHART_JS_VERSION}" in data[:200].decode()
    assert "@kurkle/color" in data.decode()  # bundled: its license goes along too
    license_text = CHART_JS_LICENSE.read_text()
    assert license_text.count("The MIT License (MIT)") == 2
    assert "Chart.js Contributors" in license_text and "Jukka Kurkela" in license_text


def test_the_page_loads_chart_js_from_its_own_server_only():
    assert static_files()[CHART_JS_URL] == CHART_JS_FILE
    assert CHART_JS_URL.startswith("/static/")
    assert "://" not in render_page()
    copies = [
        path
        for path in WEB_DIR.rglob("*.js")
        if "node_modules" not in path.parts and path.read_bytes().startswith(b"/*!\n * Chart.js")
    ]
    assert copies == [CHART_JS_FILE]
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


def test_the_page_has_no_inline_script_or_style():
    parser = Elements()
    parser.feed(render_page())
    scripts = [attrs for tag, attrs in parser.elements if tag == "script"]
    assert [s["src"] for s in scripts] == [CHART_JS_URL, "/static/app.js"]
    assert scripts[0]["integrity"] == CHART_JS_INTEGRITY
    # Both deferred: they run in this order, after the HTML is parsed.
    assert all("defer" in script for script in scripts)
    assert parser.script_text == ""
    assert not [tag for tag, _ in parser.elements if tag == "style"]
    for tag, attrs in parser.elements:
        assert not [name for name in attrs if name.startswith("on") or name == "style"], tag


def test_the_template_needs_its_marker_once():
    assert PAGE_TEMPLATE.read_text().count(SCRIPT_MARKER) == 1
    with pytest.raises(ValueError, match="exactly once"):
        render_page(template="<html></html>")


def test_the_content_security_policy_allows_no_inline_code_and_no_other_origins_script():
    local = content_security_policy()
    directives = dict(d.split(" ", 1) for d in local.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in local
    signing_in = content_security_policy(("https://auth.example.test",))
    signing_in_directives = dict(d.split(" ", 1) for d in signing_in.split("; "))
    assert signing_in_directives["script-src"] == "'self'"
    assert signing_in_directives["connect-src"] == "'self' https://auth.example.test"


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
            # An entry's playlist and snapshot: the API gives them once per playlist.
            if table == tables.PLAYLIST_ENTRIES and field.name in (
                tables.PLAYLIST_ID,
                tables.SNAPSHOT_ID,
            ):
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
        assert tables.table_name("p_", table) == definition.table_name("p_")
        if table == constants.PLAYLIST_ENTRIES:
            continue
        assert definition.key_names == (tables.ENTITY_KEYS[table],)
        for index in definition.indexes:
            assert tables.INDEXES[(table, index.partition_key.name)] == index.name
            assert index.projection == "ALL"  # the API returns whole rows from an index
    entries = SERVING_TABLES[constants.PLAYLIST_ENTRIES]
    assert len(tables.INDEXES) == sum(len(t.indexes) for t in SERVING_TABLES.values()) - len(
        entries.indexes
    )
    assert tables.PLAYLIST_VERSIONS in ALL_TABLES
    assert entries.key_names == (tables.PLAYLIST_ID, "entry_id")
    [in_order] = [index for index in entries.indexes if index.local]
    assert (in_order.name, in_order.sort_key.name) == (tables.ENTRIES_IN_ORDER, tables.ORDER_KEY)
    assert in_order.projection == "ALL"


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
