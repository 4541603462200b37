"""The dashboard page in a real browser: Debian's headless Chromium driven by Playwright, against
`spotify-assets serve`'s app on 127.0.0.1 over the sample lake (plus a playlist of HTML names).

Nothing reaches the internet: Chart.js comes with the package, from the page's own server, and
every request for another host is aborted and recorded. Without Chromium these tests are
skipped, unless SPOTIFY_ASSETS_BROWSER_TESTS=required (CI) makes that a failure.
"""

import base64
import hashlib
import json
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spotify_assets.web.app import create_app
from spotify_assets.web.cli import served_hosts
from spotify_assets.web.page import CHART_JS_FILE, CHART_JS_URL
from spotify_assets.web.settings import LOCAL, WebSettings, build_api
from spotify_assets_tests.web_support import (
    BIG_PLAYLIST_ID,
    WEB_PLAYLIST_IDS,
    XSS,
    XSS_PLAYLIST_ID,
    big_lake,
    serving,
    unavailable,
    web_lake,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = [
    "chart-length",
    "chart-changes",
    "chart-top-artists",
    "chart-decades",
    "chart-album-types",
    "chart-explicit",
]
TABLES = ["table-new", "table-movers", "table-tracks"]
VIEWS = [
    "playlist_length",
    "weekly_changes",
    "top_artists",
    "release_decades",
    "album_types",
    "explicit_share",
    "new_and_dropped",
    "position_movers",
    "tracks_ever",
]
# Records CSP violations before any script of the page runs.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
READ_CHARTS = """
() => Object.fromEntries([...document.querySelectorAll("canvas")].map((canvas) => {
  const chart = Chart.getChart(canvas);
  return [canvas.id, {
    type: chart.config.type,
    labels: chart.data.labels,
    data: chart.data.datasets.map((dataset) => dataset.data),
    drawn: canvas.width > 0 && canvas.height > 0,
  }];
}))
"""
# How many pixels of each canvas are painted (not fully transparent).
PAINTED_PIXELS = """
() => Object.fromEntries([...document.querySelectorAll("canvas")].map((canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let painted = 0;
  for (let alpha = 3; alpha < data.length; alpha += 4) painted += data[alpha] > 0;
  return [canvas.id, painted];
}))
"""
# Chart.js as served, except that the decades chart throws once it has data to draw.
BREAK_ONE_CHART = """
let loaded;
Object.defineProperty(window, "Chart", {
  configurable: true,
  get: () => loaded,
  set(Chart) {
    if (Chart !== loaded) {
      const draw = Chart.prototype.draw;
      Chart.prototype.draw = function () {
        if (this.canvas.id === "chart-decades" && this.data.labels.length) {
          throw new Error("a broken chart");
        }
        return draw.call(this);
      };
    }
    loaded = Chart;
  },
});
"""
CHART_NOTES = """() => [...document.querySelectorAll(".chart-unavailable")].map(
  (note) => [note.closest("figure").querySelector("figcaption").textContent, note.textContent]
)"""
READ_TABLES = """
(ids) => Object.fromEntries(ids.map((id) => [
  id,
  [...document.querySelectorAll(`#${id} tbody tr`)].map(
    (tr) => [...tr.cells].map((td) => td.textContent)
  ),
]))
"""


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return web_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def api(lake):
    return build_api(WebSettings(deployment=LOCAL, data_dir=lake))


@pytest.fixture(scope="module")
def site(api) -> Iterator[str]:
    with serving(create_app(api)) as url:
        yield url


@pytest.fixture(scope="module")
def long_lake(tmp_path_factory):
    return big_lake(tmp_path_factory)


@pytest.fixture(scope="module")
def browser(lake, long_lake):
    # After the lakes: their Dagster runs want no other event loop in the thread.
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Watched:
    """A page and everything worth failing a test for that happened on it."""

    page: object
    base_url: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    offsite_requests: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return self.page.evaluate("() => window.__violations")

    def wait_ready(self, playlist: str | None = None) -> None:
        selector = "body[data-state=ready]"
        if playlist:
            selector += f'[data-playlist="{playlist}"]'
        try:
            self.page.wait_for_selector(selector, timeout=10_000)
        except Exception:
            status = self.page.text_content("#status")
            raise AssertionError(f"not ready: {status!r}; errors {self.console_errors}") from None


@pytest.fixture
def open_page(browser):
    """Opens a URL in a fresh browser context; off-site requests are refused unless routed."""
    contexts = []

    def open_(
        url: str, routes: dict | None = None, init_script: str = "", **context_options
    ) -> Watched:
        options = {"viewport": {"width": 1280, "height": 900}, "reduced_motion": "reduce"}
        context = browser.new_context(**{**options, **context_options})
        contexts.append(context)
        base_url = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
        page = context.new_page()
        watched = Watched(page, base_url)

        def route(route, request):
            for prefix, handler in (routes or {}).items():
                if request.url.startswith(prefix):
                    return handler(route, request)
            if request.url.startswith(base_url + "/"):
                return route.continue_()
            watched.offsite_requests.append(request.url)
            return route.abort()

        context.route("**/*", route)
        page.add_init_script(RECORD_VIOLATIONS + init_script)
        page.on("request", lambda request: watched.requests.append(request.url))
        page.on("console", lambda m: m.type == "error" and watched.console_errors.append(m.text))
        page.on("pageerror", lambda error: watched.page_errors.append(str(error)))

        def on_dialog(dialog):
            watched.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url)
        return watched

    yield open_
    for context in contexts:
        context.close()


# --- what the page should show, from the files it reads ------------------------------------------


def expected_page(lake: Path, playlist: str) -> dict:
    """The charts' data and the tables' text for a playlist, worked out here from the
    dashboard files the API serves."""
    views = {
        view: json.loads((lake / "dashboard" / playlist / f"{view}.json").read_bytes())["rows"]
        for view in VIEWS
    }
    index = json.loads((lake / "dashboard" / "index.json").read_bytes())
    [summary] = [item for item in index["playlists"] if item["playlist"] == playlist]
    week = summary["latest"]["week"]

    def latest(view):
        return [row for row in views[view] if row["week"] == week]

    length, changes = views["playlist_length"], views["weekly_changes"]
    artists = views["top_artists"][:10]
    explicit = latest("explicit_share")
    charts = {
        "chart-length": (
            "line",
            [r["week"] for r in length],
            [[r["entries"] for r in length], [r["hours"] for r in length]],
        ),
        "chart-changes": (
            "line",
            [r["week"] for r in changes],
            [
                [r["added"] for r in changes],
                [r["removed"] for r in changes],
                [None if r["turnover"] is None else r["turnover"] * 100 for r in changes],
            ],
        ),
        "chart-top-artists": (
            "bar",
            [r["artist_name"] or "(unknown)" for r in artists],
            [[r["tracks"] for r in artists]],
        ),
        "chart-decades": (
            "bar",
            [
                "unknown" if r["decade"] is None else f"{r['decade']}s"
                for r in latest("release_decades")
            ],
            [[r["tracks"] for r in latest("release_decades")]],
        ),
        "chart-album-types": (
            "doughnut",
            [r["album_type"] or "unknown" for r in latest("album_types")],
            [[r["tracks"] for r in latest("album_types")]],
        ),
        "chart-explicit": (
            "pie",
            ["Explicit", "Not explicit"] if explicit else [],
            [
                [
                    explicit[0]["explicit_tracks"],
                    explicit[0]["tracks"] - explicit[0]["explicit_tracks"],
                ]
            ]
            if explicit
            else [[]],
        ),
    }

    def text(value):
        return "" if value is None else str(value)

    def move(places):
        return f"▲ {places}" if places > 0 else f"▼ {-places}"

    tables = {
        "table-new": [
            [text(r["position"] + 1), text(r["name"]), text(r["artist_name"]), text(r["added_by"])]
            for r in latest("new_and_dropped")
            if r["change"] == "added"
        ],
        "table-movers": [
            [
                text(r["song_name"]),
                text(r["artist_name"]),
                text(r["previous_position"] + 1),
                text(r["position"] + 1),
                move(r["places_up"]),
            ]
            for r in views["position_movers"]
        ],
        "table-tracks": [
            [
                text(r["song_name"]),
                text(r["artist_name"]),
                r["first_week"],
                r["last_week"],
                text(r["snapshots"]),
                "yes" if r["still_present"] else "no",
            ]
            for r in views["tracks_ever"]
        ],
    }
    for rows in tables.values():
        if not rows:
            rows.append(["Nothing this week"])
    return {"charts": charts, "tables": tables, "latest": summary["latest"]}


def shown_text(watched: Watched) -> dict:
    """The tables' rows and the latest week's entries, as the page shows them."""
    return {
        "tables": watched.page.evaluate(READ_TABLES, TABLES),
        "entries": watched.page.text_content("#stat-entries"),
    }


def expected_text(lake: Path, playlist: str) -> dict:
    expected = expected_page(lake, playlist)
    return {"tables": expected["tables"], "entries": str(expected["latest"]["entries"])}


def shown_page(watched: Watched) -> dict:
    charts = watched.page.evaluate(READ_CHARTS)
    assert all(chart["drawn"] for chart in charts.values()), charts
    return {
        "charts": {k: (c["type"], c["labels"], c["data"]) for k, c in charts.items()},
        **shown_text(watched),
    }


def assert_clean(watched: Watched) -> None:
    assert watched.console_errors == []
    assert watched.page_errors == []
    assert watched.violations() == []
    assert watched.offsite_requests == []
    assert watched.dialogs == []


# --- the tests ------------------------------------------------------------------------------


def test_offline_the_page_loads_clean_and_draws_every_chart_from_its_own_server(open_page, site):
    watched = open_page(site + "/")
    watched.wait_ready()
    assert set(watched.page.evaluate(READ_CHARTS)) == set(CHARTS)
    painted = watched.page.evaluate(PAINTED_PIXELS)
    assert set(painted) == set(CHARTS) and min(painted.values()) > 1000, painted
    assert watched.page.is_visible("#chart-explicit")
    assert f"{site}{CHART_JS_URL}" in watched.requests
    assert {urllib.parse.urlsplit(url).hostname for url in watched.requests} == {"127.0.0.1"}
    options = watched.page.eval_on_selector_all("#playlist option", "os => os.map(o => o.value)")
    assert options == sorted(WEB_PLAYLIST_IDS)
    assert_clean(watched)


def test_each_playlist_charts_its_own_data_and_switching_updates_them(
    open_page, site, lake, tmp_path_factory
):
    watched = open_page(site + "/")
    watched.wait_ready()
    # The sample playlists first, ending on the main one for the screenshot.
    order = sorted(WEB_PLAYLIST_IDS, key=lambda p: p == WEB_PLAYLIST_IDS[0])
    shown_before = None
    for playlist in order:
        watched.page.select_option("#playlist", playlist)
        watched.wait_ready(playlist)
        shown = shown_page(watched)
        assert shown["charts"] == expected_page(lake, playlist)["charts"], playlist
        assert shown_text(watched) == expected_text(lake, playlist), playlist
        assert shown != shown_before  # the switch replaced what was there
        shown_before = shown
    assert watched.page.url.endswith(f"#{order[-1]}")
    screenshot = tmp_path_factory.mktemp("screenshots") / "dashboard.png"
    watched.page.screenshot(path=str(screenshot), full_page=True)
    assert (
        screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 50_000
    )
    assert_clean(watched)


def test_a_link_to_a_playlist_opens_it(open_page, site):
    watched = open_page(f"{site}/#{XSS_PLAYLIST_ID}")
    watched.wait_ready(XSS_PLAYLIST_ID)
    assert watched.page.input_value("#playlist") == XSS_PLAYLIST_ID


def test_a_long_view_is_fetched_a_page_at_a_time_and_shown_whole(open_page, long_lake):
    first = long_lake / "dashboard" / BIG_PLAYLIST_ID / "tracks_ever.json"
    stored = json.loads(first.read_bytes())
    api = build_api(WebSettings(deployment=LOCAL, data_dir=long_lake))
    with serving(create_app(api, hosts=served_hosts("127.0.0.1"))) as url:
        watched = open_page(url + "/")
        watched.wait_ready(BIG_PLAYLIST_ID)
        shown = watched.page.eval_on_selector_all("#table-tracks tbody tr", "rows => rows.length")
        pages = [r for r in watched.requests if "/views/tracks_ever?offset=" in r]
        assert shown == stored["total_rows"] > 3000
        assert len(pages) == -(-stored["total_rows"] // 1000)  # 1,000 rows a page
        assert_clean(watched)


def test_html_in_names_is_shown_as_text_and_never_runs(open_page, site, lake):
    # Without the CSP: the rendering alone must keep the names inert.
    watched = open_page(f"{site}/#{XSS_PLAYLIST_ID}", bypass_csp=True)
    watched.wait_ready(XSS_PLAYLIST_ID)
    page = watched.page
    assert page.text_content("#playlist option:checked") == XSS
    assert page.text_content("#playlist-name") == XSS
    # Its owner and size, from the serving table playlists, beside the name.
    assert page.text_content("#playlist-about").startswith("by ")
    assert page.text_content("#playlist-about").endswith(" entries")
    tables = page.evaluate(READ_TABLES, TABLES)
    track_rows = [row for row in tables["table-tracks"] if row[0] == XSS]
    assert track_rows and track_rows[0][1] == XSS  # the track and its artist
    assert any(row[1] == XSS and row[2] == XSS for row in tables["table-new"])
    assert XSS in page.evaluate(READ_CHARTS)["chart-top-artists"]["labels"]
    page.wait_for_timeout(300)  # an <img src=x> would have failed to load by now
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert watched.dialogs == []
    assert watched.console_errors == [] and watched.page_errors == []


def _insert_track_names_as_html(page) -> None:
    page.evaluate(
        """() => {
          const body = document.querySelector("#table-tracks tbody");
          const names = [...body.rows].map((row) => row.cells[0].textContent);
          body.innerHTML = names.map((name) => `<tr><td>${name}</td></tr>`).join("");
        }"""
    )


def test_the_same_names_inserted_as_html_would_fire_the_dialog(open_page, site):
    # The control for the test above: were the page to insert names as HTML, the payload would
    # run and the test above would see its dialog.
    watched = open_page(f"{site}/#{XSS_PLAYLIST_ID}", bypass_csp=True)
    watched.wait_ready(XSS_PLAYLIST_ID)
    with watched.page.expect_event("dialog", timeout=5_000):
        _insert_track_names_as_html(watched.page)
    assert watched.dialogs == ["1"]


def test_the_content_security_policy_stops_html_even_if_a_name_got_in(open_page, site):
    watched = open_page(f"{site}/#{XSS_PLAYLIST_ID}")
    watched.wait_ready(XSS_PLAYLIST_ID)
    with pytest.raises(Exception, match="TrustedHTML"):
        _insert_track_names_as_html(watched.page)
    watched.page.wait_for_timeout(300)
    assert watched.dialogs == []
    assert any("require-trusted-types-for" in v for v in watched.violations())


def test_on_a_phone_the_page_fits_the_screen(open_page, site):
    watched = open_page(
        site + "/",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    watched.wait_ready()
    page = watched.page
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for selector in ["#playlist", *(f"#{chart}" for chart in CHARTS)]:
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    assert page.locator("#playlist").bounding_box()["height"] >= 40  # a finger's width
    assert_clean(watched)


def assert_shown_without_charts(watched: Watched, lake: Path, playlist: str) -> None:
    """The cards and tables are all there, and no error escaped the page's script."""
    watched.wait_ready(playlist)
    assert watched.page.is_visible("#dashboard")
    cards = watched.page.eval_on_selector_all(".card .value", "vs => vs.map(v => v.textContent)")
    assert len(cards) == 6 and all(cards), cards
    assert shown_text(watched) == expected_text(lake, playlist)
    assert watched.page_errors == []
    assert watched.violations() == [] and watched.offsite_requests == []


@pytest.mark.parametrize("chart_js", ["missing", "tampered"])
def test_without_chart_js_the_cards_and_tables_still_show(open_page, site, lake, chart_js):
    def answer(route, request):
        if chart_js == "missing":
            return route.fulfill(status=404, body="not found")
        # Other bytes at that URL do not run: the page's integrity hash refuses them.
        tampered = CHART_JS_FILE.read_bytes().replace(b"Chart.js v", b"Chart.js x", 1)
        return route.fulfill(status=200, body=tampered, content_type="text/javascript")

    playlist = WEB_PLAYLIST_IDS[0]
    watched = open_page(f"{site}/#{playlist}", routes={f"{site}{CHART_JS_URL}": answer})
    assert_shown_without_charts(watched, lake, playlist)
    notes = watched.page.evaluate(CHART_NOTES)
    assert [text for _, text in notes] == ["Chart unavailable: Chart.js did not load."] * 6
    assert watched.page.evaluate("() => document.querySelectorAll('canvas').length") == 0
    [error] = watched.console_errors  # the browser's own report of the failed load
    assert ("404" if chart_js == "missing" else "integrity") in error


# Without motion Chart.js draws within the page's call; with it, in a later animation frame.
@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_a_chart_that_throws_leaves_a_note_and_the_rest_of_the_page(open_page, site, lake, motion):
    playlist = WEB_PLAYLIST_IDS[0]
    watched = open_page(f"{site}/#{playlist}", init_script=BREAK_ONE_CHART, reduced_motion=motion)
    assert_shown_without_charts(watched, lake, playlist)
    watched.page.wait_for_selector(".chart-unavailable", timeout=5_000)
    assert watched.page.evaluate(CHART_NOTES) == [
        ["Release decades (tracks, latest week)", "Chart unavailable: it could not be drawn."]
    ]
    drawn = watched.page.evaluate(READ_CHARTS)
    assert set(drawn) == set(CHARTS) - {"chart-decades"}
    assert watched.console_errors == []
    # Another playlist still draws the charts that work.
    watched.page.select_option("#playlist", XSS_PLAYLIST_ID)
    watched.wait_ready(XSS_PLAYLIST_ID)
    assert set(watched.page.evaluate(READ_CHARTS)) == set(drawn)
    assert watched.page_errors == [] and watched.console_errors == []


def test_in_aws_the_page_signs_in_with_cognito_and_sends_the_token(open_page, api):
    auth = {"domain": "https://auth.example.test", "client_id": "dashboard-client"}
    seen: dict = {"authorize": None, "token": None, "api": []}

    with serving(create_app(api, auth={**auth, "scopes": "openid email"})) as url:

        def authorize(route, request):
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(request.url).query))
            seen["authorize"] = query
            back = f"{url}/?code=the-code&state={urllib.parse.quote(query['state'])}"
            route.fulfill(status=302, headers={"location": back})

        def token(route, request):
            seen["token"] = dict(urllib.parse.parse_qsl(request.post_data))
            route.fulfill(
                status=200,
                content_type="application/json",
                headers={"access-control-allow-origin": url},
                body=json.dumps({"access_token": "the-token", "expires_in": 3600}),
            )

        def api_call(route, request):
            seen["api"].append(request.headers.get("authorization"))
            route.continue_()

        watched = open_page(
            url + "/",
            routes={
                f"{auth['domain']}/oauth2/authorize": authorize,
                f"{auth['domain']}/oauth2/token": token,
                f"{url}/api/": api_call,
            },
        )
        watched.wait_ready()
        query = seen["authorize"]
        assert query["response_type"] == "code" and query["client_id"] == auth["client_id"]
        assert query["redirect_uri"] == f"{url}/" and query["scope"] == "openid email"
        assert query["code_challenge_method"] == "S256"
        verifier = seen["token"]["code_verifier"]
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        assert query["code_challenge"] == challenge.decode().rstrip("=")
        assert seen["token"]["code"] == "the-code"
        assert seen["token"]["grant_type"] == "authorization_code"
        assert seen["api"] and set(seen["api"]) == {"Bearer the-token"}
        assert "code=" not in watched.page.url
        assert watched.page.is_visible("#sign-out")
        assert_clean(watched)
