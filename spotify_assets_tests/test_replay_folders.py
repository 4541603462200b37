"""One stray name never takes everything down: a replay folder or file that is not a recording
is skipped with one warning naming it, and a lake folder that is not a playlist, or a view that
fails for one playlist, costs the dashboard that playlist alone."""

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spotify_assets import constants
from spotify_assets.assets.analytics import dashboard
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_json
from spotify_assets.cli import main
from spotify_assets.deployment import configured_playlist_ids
from spotify_assets.sources.replay import FIRST_RECORDABLE_WEEK, recorded_weeks
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.sql import catalog
from spotify_assets.sql.dashboard import dashboard_files, dashboard_results
from spotify_assets.sql.duckdb_lake import DuckDBLake
from spotify_assets.sql.result import QueryResult
from spotify_assets_tests.conftest import local_resources, materialize, partition

PLAYLIST, *_, OTHER_PLAYLIST = sorted(SAMPLE_PLAYLIST_IDS)
# Each stray file in a playlist's folder, and the end of the warning naming it.
STRAY_FILES = {
    "0-notes.json": "not named <YYYY-MM-DD>.json",
    "2026-00-45.json": "2026-00-45 is not a date",
    "2026-11-10.json": "2026-11-10 is a Tuesday, and weeks start on Monday",
    "1900-01-01.json": "1900-01-01 is before 2008-10-06, the week Spotify launched",
}
STRAY_FOLDERS = ["a|b", "a,b", "x...y", "plåt-1", "my playlist", ".git"]
FOLDER_WARNING = "the folder name is not a Spotify playlist id"
# The partitions and one schedule tick, a week after the last recorded week.
LOAD_DEFINITIONS = """
import datetime as dt, json
import dagster as dg
from spotify_assets import constants
from spotify_assets.definitions import defs
from spotify_assets.schedules import weekly_snapshot_schedule
partitions = defs.resolve_assets_def(dg.AssetKey(["raw", "playlist_json"])).partitions_def
dimension = partitions.get_partitions_def_for_dimension
tick = dt.datetime(2026, 11, 16, 6, tzinfo=dt.UTC)
with dg.DagsterInstance.get() as instance:
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        runs = list(weekly_snapshot_schedule(context))
    playlists = dimension(constants.PLAYLIST).get_partition_keys(dynamic_partitions_store=instance)
print(json.dumps({
    "weeks": dimension(constants.WEEK).get_partition_keys(),
    "playlists": sorted(playlists),
    "scheduled": sorted(run.partition_key for run in runs),
}))
"""


@pytest.fixture
def stray_replay_dir(replay_dir: Path, monkeypatch) -> Path:
    """The sample recordings with every stray name beside them, as the replay folder."""
    recording = replay_dir / PLAYLIST / f"{SAMPLE_WEEKS[0]}.json"
    for name in STRAY_FILES:
        shutil.copy(recording, replay_dir / PLAYLIST / name)
    for name in STRAY_FOLDERS:
        (replay_dir / name).mkdir()
        shutil.copy(recording, replay_dir / name / f"{SAMPLE_WEEKS[0]}.json")
    for variable in (constants.ENV_PLAYLISTS, constants.ENV_DEPLOYMENT, "SPOTIFY_CLIENT_ID"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(constants.ENV_REPLAY_DIR, str(replay_dir))
    return replay_dir


def expected_warnings(replay_dir: Path) -> list[str]:
    lines = [f"{replay_dir / PLAYLIST / name}: {why}" for name, why in STRAY_FILES.items()]
    lines += [f"{replay_dir / name}: {FOLDER_WARNING}" for name in STRAY_FOLDERS]
    return sorted(f"skipped in the replay folder: {line}" for line in lines)


def test_the_definitions_load_with_exactly_the_good_partitions(stray_replay_dir, tmp_path):
    # A fresh process and a fresh instance, as a code location loads them.
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("")
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_DEFINITIONS],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
    )
    assert json.loads(loaded.stdout) == {
        "weeks": SAMPLE_WEEKS,
        "playlists": sorted(SAMPLE_PLAYLIST_IDS),
        "scheduled": sorted(f"{playlist}|{SAMPLE_WEEKS[-1]}" for playlist in SAMPLE_PLAYLIST_IDS),
    }
    assert loaded.stderr.splitlines() == expected_warnings(stray_replay_dir)
    assert recorded_weeks(stray_replay_dir, PLAYLIST) == SAMPLE_WEEKS
    assert configured_playlist_ids() == sorted(SAMPLE_PLAYLIST_IDS)


def test_a_good_partition_still_materializes(stray_replay_dir, data_dir):
    result = materialize(
        [playlist_json, normalized_tables],
        partition_key=partition(PLAYLIST, SAMPLE_WEEKS[-1]),
        resources=local_resources(data_dir, stray_replay_dir),
    )
    assert result.success


def test_playlists_names_each_stray_on_stderr(stray_replay_dir, data_dir, monkeypatch, capsys):
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(data_dir))
    assert main(["playlists", "--partitions"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {line}" for line in expected_warnings(stray_replay_dir)]
    assert sorted(captured.out.splitlines()) == sorted(
        f"{playlist}|{week}" for week in SAMPLE_WEEKS for playlist in SAMPLE_PLAYLIST_IDS
    )


def test_the_first_recordable_week_is_the_monday_spotify_launched():
    assert FIRST_RECORDABLE_WEEK.weekday() == 0
    assert FIRST_RECORDABLE_WEEK + dt.timedelta(days=1) == dt.date(2008, 10, 7)


@pytest.mark.parametrize("entry", ["not-a-playlist", "spotify:album:4aawyAB9vmqN3uQ7FjRGTy"])
def test_a_bad_configured_playlist_fails_loudly_naming_it(monkeypatch, entry):
    monkeypatch.setenv(constants.ENV_PLAYLISTS, f"{PLAYLIST},{entry}")
    with pytest.raises(ValueError, match=rf"^{constants.ENV_PLAYLISTS}: '{entry}' is not"):
        configured_playlist_ids()


def _materialized_lake(data_dir: Path, playlists: list[str]) -> None:
    for playlist in playlists:
        result = materialize(
            [playlist_json, normalized_tables],
            partition_key=partition(playlist, SAMPLE_WEEKS[0]),
            resources=local_resources(data_dir),
        )
        assert result.success


def test_a_lake_with_stray_folders_still_gets_a_dashboard(data_dir, caplog):
    _materialized_lake(data_dir, [PLAYLIST])
    good = f"{constants.PLAYLIST}={PLAYLIST}"
    strays = ["plåt-1", "my playlist"]
    for table in constants.NORMALIZED_TABLES:
        week_folder = data_dir / constants.NORMALIZED / table / f"week={SAMPLE_WEEKS[0]}"
        for stray in strays:
            shutil.copytree(week_folder / good, week_folder / f"{constants.PLAYLIST}={stray}")
    with caplog.at_level(logging.WARNING):
        result = materialize([dashboard], resources=local_resources(data_dir))
    assert result.success
    index = json.loads((data_dir / "dashboard" / "index.json").read_bytes())
    assert [item["playlist"] for item in index["playlists"]] == [PLAYLIST]
    for stray in strays:
        assert any(
            f"{constants.PLAYLIST}={stray} folders" in record.getMessage()
            for record in caplog.records
        ), stray


def test_a_view_failing_for_one_playlist_fails_it_for_that_playlist_alone(data_dir):
    _materialized_lake(data_dir, [PLAYLIST, OTHER_PLAYLIST])
    [broken] = (
        data_dir
        / constants.NORMALIZED
        / constants.SONGS
        / f"week={SAMPLE_WEEKS[0]}"
        / f"{constants.PLAYLIST}={OTHER_PLAYLIST}"
    ).glob("*.parquet")
    # Not the first file: DuckDB reads that one for the tables' columns, whatever the query.
    broken.write_bytes(b"not parquet")
    results, failures = dashboard_results(DuckDBLake(data_dir), catalog.views())
    files = dashboard_files(results, {}, failures)
    top_artists = "top_artists"
    good = json.loads(files[f"{PLAYLIST}/{top_artists}.json"])
    bad = json.loads(files[f"{OTHER_PLAYLIST}/{top_artists}.json"])
    assert good["rows"] and "error" not in good
    assert bad["rows"] == [] and str(broken) in bad["error"]
    assert set(failures[top_artists]) == {OTHER_PLAYLIST}
    # A view reading no broken file answers for both.
    assert "playlist_length" not in failures


def test_a_dashboard_skips_a_playlist_that_is_not_a_path_segment(caplog):
    result = QueryResult(["playlist", "week"], [("../escape", None), ("0Good", None)])
    with caplog.at_level(logging.WARNING):
        files = dashboard_files({"playlist_length": result}, {})
    assert sorted(files) == ["0Good/playlist_length.json", "index.json"]
    assert "'../escape' is not a playlist id" in caplog.text
