"""Dagster's `dg` CLI on the project as a user runs it from the project's folder: `dg dev` keeps
its history across restarts, and `dg scaffold defs` adds definitions that the project loads."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spotify_assets_tests.dagster_ui import background, free_port, fresh_clone, run_statuses

DG = str(Path(sys.executable).parent / "dg")
PARTITION = "4q0xVAtAY3eZ8QdD5I84BJ|2026-11-09"


@pytest.fixture
def project(tmp_path) -> Path:
    return fresh_clone(tmp_path / "project")


@pytest.fixture
def env(project) -> dict:
    """This environment, importing the copy's package and with no DAGSTER_HOME, like a shell."""
    settings = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DAGSTER_", "AWS_"))
    }
    return {**settings, "PYTHONPATH": str(project), "VIRTUAL_ENV": sys.prefix}


def dg(project: Path, env: dict, *arguments: str) -> str:
    result = subprocess.run(
        [DG, *arguments], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (arguments, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def test_dg_dev_keeps_its_runs_across_a_restart(project, env, tmp_path):
    port = free_port()
    command = f"{DG} dev --port {port}"
    ready = f"http://127.0.0.1:{port}/server_info"
    log = tmp_path / "dg-dev.log"
    with background(command, project, env, log, ready):
        assert run_statuses(port) == {}
        dg(project, env, "launch", "--assets", "raw/playlist_json", "--partition", PARTITION)
        runs = run_statuses(port)
    assert list(runs.values()) == ["SUCCESS"]
    with background(command, project, env, log, ready):
        assert run_statuses(port) == runs
    assert (project / ".dagster_home" / "storage").is_dir()
    assert not list(project.glob(".tmp_dagster_home_*"))


def test_dg_scaffold_defs_adds_an_asset_that_the_project_loads(project, env):
    dg(project, env, "scaffold", "defs", "dagster.asset", "my_asset.py")
    assert (project / "spotify_assets" / "defs" / "my_asset.py").is_file()
    listed = json.loads(dg(project, env, "list", "defs", "--json"))
    keys = {asset["asset_key"] for asset in listed["assets"]}
    assert {"my_asset", "raw/playlist_json", "analytics/dashboard"} <= keys
    assert "All definitions loaded successfully" in dg(project, env, "check", "defs")
