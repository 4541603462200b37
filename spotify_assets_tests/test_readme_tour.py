"""The README's first hour, word for word: a fresh clone, a new virtual environment, the install
line with the pinned versions, then every command of *Run it* and *A tour*, with no network for
the commands (when `unshare` can take it away) and none but 127.0.0.1 for the browser. What a
new user must see: every run green, every partition of every asset materialized, every check
passed, the dashboard's charts drawn, and the runs still there after `dg dev` restarts.

It installs the project (about two minutes from pip's cache) and runs the whole backfill, so it
runs only with SPOTIFY_ASSETS_TOUR_TEST=1, or =required (CI), which also requires Chromium.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spotify_assets.deployment import PROJECT_ROOT
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets_tests.dagster_ui import (
    background,
    free_port,
    fresh_clone,
    graphql,
    partition_stats,
    run_statuses,
    wait_for_runs_to_finish,
)

TOUR = os.environ.get("SPOTIFY_ASSETS_TOUR_TEST", "")
CHROMIUM = Path("/usr/bin/chromium")
WEEKLY_ROTATION = "4q0xVAtAY3eZ8QdD5I84BJ"
pytestmark = pytest.mark.skipif(
    not TOUR, reason="installs the project and runs the whole tour: SPOTIFY_ASSETS_TOUR_TEST=1"
)
INSTALL, UI, TESTS, PAGE = "install", "ui", "tests", "page"
CHECK_STATUSES = """{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks {
  checks { name executionForLatestMaterialization { status } } } } } }"""


def readme_commands(readme: str) -> list[str]:
    """The commands of the README's code blocks up to *Next*, one per line, without comments."""
    first_hour = readme[: readme.index("\n## Next")]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", first_hour, re.DOTALL):
        for line in block.splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def kind(command: str) -> str | None:
    if command.startswith("pip install"):
        return INSTALL
    if command in ("dg dev", "dagster dev"):
        return UI
    if command == "pytest":
        return TESTS
    if command == "spotify-assets serve":
        return PAGE
    return None


def user_environment(venv: Path) -> dict:
    """A shell with the new environment activated, and none of this test run's settings."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DAGSTER_", "AWS_", "PIP_", "PYTEST", "VIRTUAL_ENV"))
        and name != "PYTHONPATH"
    }
    other_paths = [
        path for path in os.environ["PATH"].split(os.pathsep) if not path.startswith(sys.prefix)
    ]
    return {
        **inherited,
        "VIRTUAL_ENV": str(venv),
        "PATH": os.pathsep.join([str(venv / "bin"), *other_paths]),
    }


def offline(command: str) -> list[str]:
    """The command with no network at all, where `unshare` can make a namespace without one."""
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-rn", "bash", "-c", command]
    return ["bash", "-c", command]


def run(command: list[str], cwd: Path, env: dict, timeout: float) -> str:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result.stdout


def test_the_readme_tour_on_a_fresh_clone(tmp_path):
    if TOUR == "required":
        assert CHROMIUM.exists(), "the tour's browser steps need Debian's chromium"
    readme = (PROJECT_ROOT / "README.md").read_text()
    commands = readme_commands(readme)
    assert [kind(command) for command in commands][:3] == [INSTALL, UI, TESTS]
    assert PAGE in [kind(command) for command in commands]
    clone = fresh_clone(tmp_path / "spotify_assets")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    env = user_environment(venv)
    timings = {}

    started = time.monotonic()
    run(["bash", "-c", commands[0]], clone, env, timeout=1200)
    timings["install"] = time.monotonic() - started
    # What the README's install put in the environment is what constraints.txt pins.
    pinned = set((clone / "constraints.txt").read_text().split())
    frozen = run(["pip", "freeze", "--exclude-editable"], clone, env, 60).split()
    assert sorted(set(frozen) - pinned) == []

    ui_port, page_port = free_port(), free_port()
    ui_log = tmp_path / "dg-dev.log"
    ui = f"{commands[1]} --port {ui_port}"
    ready = f"http://127.0.0.1:{ui_port}/server_info"
    with background(ui, clone, env, ui_log, ready):
        for command in commands[3:]:
            if kind(command) is None:
                started = time.monotonic()
                output = run(offline(command), clone, env, timeout=1800)
                timings[command[:40]] = time.monotonic() - started
                if command.startswith("spotify-assets sql"):
                    assert "artist" in output.lower(), output
        statuses = wait_for_runs_to_finish(ui_port)
        if CHROMIUM.exists():
            screenshot_lineage(ui_port, PROJECT_ROOT / "docs" / "lineage.png")

    # Only green: every run succeeded, every partition of every asset is materialized, and the
    # latest materialization of every partitioned table passed every check.
    assert statuses and set(statuses.values()) == {"SUCCESS"}, statuses
    assert len(statuses) >= 1 + len(SAMPLE_PLAYLIST_IDS) * len(SAMPLE_WEEKS)
    with background(ui, clone, env, ui_log, ready):
        # After a restart the UI still shows every run and every partition.
        assert run_statuses(ui_port) == statuses
        stats = partition_stats(ui_port)
        checks = graphql(ui_port, CHECK_STATUSES)["assetNodes"]
    partitions = len(SAMPLE_PLAYLIST_IDS) * len(SAMPLE_WEEKS)
    expected = {"numMaterialized": partitions, "numPartitions": partitions, "numFailed": 0}
    for asset, counts in stats.items():
        assert {name: counts[name] for name in expected} == expected, asset
    check_statuses = {
        ("/".join(node["assetKey"]["path"]), check["name"]): (
            check["executionForLatestMaterialization"] or {}
        ).get("status")
        for node in checks
        for check in node["assetChecksOrError"].get("checks", [])
    }
    assert check_statuses and set(check_statuses.values()) == {"SUCCEEDED"}, check_statuses

    if CHROMIUM.exists():
        page = f"spotify-assets serve --port {page_port}"
        page_url = f"http://127.0.0.1:{page_port}/"
        with background(page, clone, env, tmp_path / "serve.log", page_url):
            assert_dashboard_draws_offline(page_url, PROJECT_ROOT / "docs" / "dashboard.png")
    print("tour timings (s):", {step: round(seconds, 1) for step, seconds in timings.items()})


def browser():
    from playwright.sync_api import sync_playwright

    from spotify_assets_tests.test_web_browser import CHROMIUM_ARGS

    return sync_playwright(), CHROMIUM_ARGS


def screenshot_lineage(port: int, path: Path) -> None:
    """The lineage page with the groups folded, as the README shows it."""
    playwright, args = browser()
    with playwright as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = chromium.new_page(viewport={"width": 1400, "height": 760})
        page.goto(f"http://127.0.0.1:{port}/asset-groups")
        page.wait_for_timeout(4000)
        # Dagster's once-per-instance invitation to its community covers the graph.
        skip = page.get_by_role("button", name="Skip")
        if skip.count():
            skip.click()
        page.wait_for_timeout(2000)
        page.screenshot(path=path)
        chromium.close()


def assert_dashboard_draws_offline(url: str, screenshot: Path) -> None:
    """Every chart drawn, no error, and no request for anything but the page's own server; the
    README's screenshot of it."""
    playwright, args = browser()
    outside, errors = [], []
    with playwright as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        # Without animations (the page honours reduced motion), the screenshot shows every chart
        # whole, not a frame of its entry.
        page = chromium.new_page(viewport={"width": 1200, "height": 900}, reduced_motion="reduce")
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))

        def only_this_machine(route):
            if route.request.url.startswith(url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        page.route("**/*", only_this_machine)
        page.goto(f"{url}#{WEEKLY_ROTATION}")
        page.wait_for_function(
            "() => [...document.querySelectorAll('canvas')].length > 0 && "
            "[...document.querySelectorAll('canvas')].every((c) => Chart.getChart(c))",
            timeout=30_000,
        )
        text = page.inner_text("body")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=screenshot, full_page=True)
        chromium.close()
    assert outside == [] and errors == []
    assert "Weekly Rotation" in text
