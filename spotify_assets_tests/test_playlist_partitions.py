"""Playlists as data: partitions kept in the Dagster instance, added and removed without a
deploy, following SPOTIFY_PLAYLISTS, and the contract command on a fresh DAGSTER_HOME."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from spotify_assets import constants
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_json
from spotify_assets.cli import main
from spotify_assets.deployment import PROJECT_ROOT
from spotify_assets.playlist_partitions import (
    PLAYLIST_PARTITIONS_NAME,
    add_configured_playlists_at_load,
    add_playlists,
    partitioned_playlist_ids,
    playlist_partitions_sensor,
)
from spotify_assets.schedules import weekly_snapshot_schedule
from spotify_assets.sources.sample_generator import (
    SAMPLE_PLAYLIST_IDS,
    SAMPLE_WEEKS,
    synthetic_playlist,
)
from spotify_assets_tests.conftest import local_resources, partition
from spotify_assets_tests.dagster_ui import background, free_port
from spotify_assets_tests.fake_spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    OWNER,
    REFRESH_TOKEN,
    FakeSpotify,
)

CONFIGURED, ADDED, *OTHERS = sorted(SAMPLE_PLAYLIST_IDS)
WEEK = SAMPLE_WEEKS[-1]
TICK = dt.datetime.combine(
    dt.date.fromisoformat(WEEK) + dt.timedelta(days=7), dt.time(6), tzinfo=dt.UTC
)


def _fresh_home(tmp_path: Path, config: bool = True) -> Path:
    """A new DAGSTER_HOME: with an empty dagster.yaml, or with none at all (a home as fresh as
    it gets; Dagster warns of it once)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    if config:
        (home / "dagster.yaml").write_text("")
    return home


def _shell_env(home: Path, tmp_path: Path) -> dict:
    """This environment as a fresh shell has it, with ``home`` and a data dir of its own."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DAGSTER_", "AWS_"))
    }
    return {**env, "DAGSTER_HOME": str(home), "SPOTIFY_ASSETS_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """A fresh DAGSTER_HOME, with SPOTIFY_PLAYLISTS naming one sample playlist: the replay
    folder holds recordings of the others, which get partitions only when added."""
    home = _fresh_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(constants.ENV_PLAYLISTS, CONFIGURED)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(tmp_path / "data"))
    return home


def _playlists(home: Path) -> list[str]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return partitioned_playlist_ids(instance)


def _scheduled(instance: dg.DagsterInstance) -> list[str]:
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK) as context:
        return [str(request.partition_key) for request in weekly_snapshot_schedule(context)]


def _cli(capsys, *arguments: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what ran before
    code = main(["playlists", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("configured_by", ["replay folder", constants.ENV_PLAYLISTS])
def test_the_contract_command_works_on_a_fresh_dagster_home(tmp_path, configured_by):
    home = _fresh_home(tmp_path, config=False)
    env = _shell_env(home, tmp_path)
    playlist = OTHERS[-1]
    if configured_by == constants.ENV_PLAYLISTS:
        env[constants.ENV_PLAYLISTS] = f"spotify:playlist:{playlist}"
    command = [
        *(str(Path(sys.executable).parent / name) for name in ["dagster"]),
        *["asset", "materialize", "-m", "spotify_assets.definitions", "--select", "*"],
        *["--partition", f"{playlist}|{WEEK}"],
    ]
    result = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RUN_SUCCESS" in result.stderr
    entries = tmp_path / "data" / "normalized" / "playlist_entries" / f"week={WEEK}"
    assert (entries / f"playlist={playlist}" / "playlist_entries.parquet").is_file()
    expected = SAMPLE_PLAYLIST_IDS if configured_by == "replay folder" else [playlist]
    assert sorted(_playlists(home)) == sorted(expected)


def test_a_playlist_added_from_the_command_line_is_snapshotted_without_a_deploy(
    dagster_home, capsys
):
    assert add_configured_playlists_at_load() == [CONFIGURED]  # what loading the definitions does
    assert _playlists(dagster_home) == [CONFIGURED]
    url = f"https://open.spotify.com/playlist/{ADDED}?si=abc"
    assert _cli(capsys, "add", url) == (0, f"added: {ADDED}\n", "")
    assert _cli(capsys, "add", ADDED)[1] == f"unchanged: {ADDED} (already there)\n"
    assert _playlists(dagster_home) == [CONFIGURED, ADDED]

    with dg.DagsterInstance.get() as instance:
        assert _scheduled(instance) == [f"{playlist}|{WEEK}" for playlist in (CONFIGURED, ADDED)]
        result = dg.materialize(
            [playlist_json, normalized_tables],
            partition_key=partition(ADDED, WEEK),
            resources=local_resources(Path(os.environ[constants.ENV_DATA_DIR])),
            instance=instance,
        )
        assert result.success
    code, out, err = _cli(capsys, "--partitions")
    assert f"{ADDED}|{WEEK}" in out.splitlines() and f"{CONFIGURED}|{WEEK}" in out.splitlines()


def test_removing_a_playlist_stops_its_snapshots_and_keeps_its_history(dagster_home, capsys):
    data_dir = Path(os.environ[constants.ENV_DATA_DIR])
    with dg.DagsterInstance.get() as instance:
        add_playlists(instance, [CONFIGURED, ADDED])
        key = partition(ADDED, WEEK)
        assert dg.materialize(
            [playlist_json],
            partition_key=key,
            resources=local_resources(data_dir),
            instance=instance,
        ).success
    raw_file = data_dir / "raw" / "playlist_json" / f"week={WEEK}" / f"playlist={ADDED}"

    assert _cli(capsys, "remove", f"spotify:playlist:{ADDED}") == (0, f"removed: {ADDED}\n", "")
    with dg.DagsterInstance.get() as instance:
        assert partitioned_playlist_ids(instance) == [CONFIGURED]
        assert _scheduled(instance) == [f"{CONFIGURED}|{WEEK}"]
        # The materialization stays in the event log, and the file in the lake.
        event = instance.get_latest_materialization_event(dg.AssetKey(["raw", "playlist_json"]))
        assert event.asset_materialization.partition == str(key)
    assert (raw_file / "playlist.json").is_file()

    assert _cli(capsys, "add", ADDED)[0] == 0
    with dg.DagsterInstance.get() as instance:
        status = instance.get_materialized_partitions(dg.AssetKey(["raw", "playlist_json"]))
    assert str(key) in status


def test_a_configured_playlist_cannot_be_removed_by_hand(dagster_home, capsys):
    with dg.DagsterInstance.get() as instance:
        add_playlists(instance, [CONFIGURED])
    code, out, err = _cli(capsys, "remove", CONFIGURED)
    assert code == 1 and out == ""
    assert f"error: {CONFIGURED}: configured ({constants.ENV_PLAYLISTS}" in err
    assert _playlists(dagster_home) == [CONFIGURED]


def test_bad_input_and_no_instance_fail_clearly(tmp_path, monkeypatch, capsys):
    code, _, err = _cli(capsys, "add", "spotify:album:4aawyAB9vmqN3uQ7FjRGTy")
    assert code == 2 and "is not a Spotify playlist id" in err
    monkeypatch.delenv("DAGSTER_HOME")
    monkeypatch.chdir(tmp_path)  # no dagster.yaml here
    code, _, err = _cli(capsys, "add", ADDED)
    assert code == 1 and "no Dagster instance here: set DAGSTER_HOME" in err


def test_the_sensor_follows_the_configured_list_and_leaves_added_playlists_alone(
    instance, monkeypatch
):
    for playlist_id in partitioned_playlist_ids(instance):
        instance.delete_dynamic_partition(PLAYLIST_PARTITIONS_NAME, playlist_id)
    add_playlists(instance, [ADDED])  # by hand

    def tick(configured: list[str], cursor: str | None) -> tuple[list[str], str]:
        monkeypatch.setenv(constants.ENV_PLAYLISTS, ",".join(configured))
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        result = playlist_partitions_sensor(context)
        for request in result.dynamic_partitions_requests:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
            else:
                for key in request.partition_keys:
                    instance.delete_dynamic_partition(request.partitions_def_name, key)
        return sorted(partitioned_playlist_ids(instance)), result.cursor

    playlists, cursor = tick([CONFIGURED, OTHERS[0]], None)
    assert playlists == sorted([CONFIGURED, OTHERS[0], ADDED])
    assert tick([CONFIGURED, OTHERS[0]], cursor) == (playlists, cursor)  # nothing to do
    playlists, cursor = tick([CONFIGURED], cursor)  # OTHERS[0] left the list
    assert playlists == sorted([CONFIGURED, ADDED])
    assert json.loads(cursor)["configured"] == [CONFIGURED]


def test_adding_and_removing_through_a_running_webserver(tmp_path, capsys, monkeypatch):
    home = _fresh_home(tmp_path)
    env = _shell_env(home, tmp_path)
    env[constants.ENV_PLAYLISTS] = CONFIGURED
    port = free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    command = f"{webserver} -w {PROJECT_ROOT / 'workspace.yaml'} -p {port}"
    with background(
        command,
        PROJECT_ROOT,
        env,
        tmp_path / "webserver.log",
        f"http://127.0.0.1:{port}/server_info",
    ):
        url = f"http://127.0.0.1:{port}"
        assert _cli(capsys, "add", ADDED, "--url", url) == (0, f"added: {ADDED}\n", "")
        assert _cli(capsys, "add", ADDED, "--url", url)[1].startswith(f"unchanged: {ADDED}")
        assert sorted(_playlists(home)) == sorted([CONFIGURED, ADDED])
        assert _cli(capsys, "remove", ADDED, "--url", url)[0] == 0
        assert _playlists(home) == [CONFIGURED]
    code, _, err = _cli(capsys, "add", ADDED, "--url", url)
    assert code == 1 and f"could not reach Dagster's GraphQL API at {url}/graphql" in err


def _owned(playlist_id: str, **fields) -> dict:
    playlist = synthetic_playlist(2, seed=len(playlist_id), playlist_id=playlist_id)
    return {**playlist, "owner": OWNER, **fields}


def test_the_owners_new_playlists_are_added_from_a_daily_listing(instance, monkeypatch):
    owned = [f"own{n:019d}" for n in range(55)]  # two pages of GET /me/playlists
    collaborative, followed = "collab0000000000000000", "followed00000000000000"
    with FakeSpotify() as spotify:
        for playlist_id in owned:
            spotify.add_playlist(_owned(playlist_id))
        spotify.add_playlist(_owned(collaborative, owner={"id": "a_friend"}, collaborative=True))
        spotify.followed.append(
            {"id": followed, "owner": {"id": "someone"}, "collaborative": False}
        )
        for name, value in {
            "SPOTIFY_CLIENT_ID": CLIENT_ID,
            "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
            "SPOTIFY_REFRESH_TOKEN": REFRESH_TOKEN,
            "SPOTIFY_API_BASE_URL": spotify.api_base_url,
            "SPOTIFY_ACCOUNTS_BASE_URL": spotify.accounts_base_url,
            constants.ENV_PLAYLISTS: owned[0],
            constants.ENV_ADD_OWN_PLAYLISTS: "true",
        }.items():
            monkeypatch.setenv(name, value)

        def tick(cursor: str | None) -> str:
            result = playlist_partitions_sensor(
                dg.build_sensor_context(instance=instance, cursor=cursor)
            )
            for request in result.dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
            return result.cursor

        cursor = tick(None)
        known = set(partitioned_playlist_ids(instance))
        assert {*owned, collaborative} <= known and followed not in known
        listings = len([r for r in spotify.requests if r.path == "/v1/me/playlists"])
        assert listings == 2

        instance.delete_dynamic_partition(PLAYLIST_PARTITIONS_NAME, owned[7])  # by hand
        cursor = tick(cursor)  # the same day: no listing
        assert len([r for r in spotify.requests if r.path == "/v1/me/playlists"]) == listings
        assert owned[7] not in partitioned_playlist_ids(instance)

        spotify.add_playlist(_owned("brandnew00000000000000"))
        a_day_ago = json.loads(cursor) | {"owned_listed_at": "2026-01-01T00:00:00+00:00"}
        cursor = tick(json.dumps(a_day_ago))
        playlists = partitioned_playlist_ids(instance)
        assert "brandnew00000000000000" in playlists and owned[7] not in playlists

        spotify.answer("GET", "/v1/me/playlists", 403, body={"error": {"message": "Forbidden"}})
        failed = json.loads(tick(json.dumps(json.loads(cursor) | {"owned_listed_at": None})))
        assert failed["owned_ok"] is False
        assert not any(value in json.dumps(failed) for value in (CLIENT_SECRET, REFRESH_TOKEN))


def test_processes_loading_at_once_add_each_playlist_once(tmp_path):
    home = _fresh_home(tmp_path)
    env = _shell_env(home, tmp_path)
    # The instance exists, as `dg dev` makes it before any run: two processes creating a SQLite
    # instance's storage at once is Dagster's own race (its alembic table gets two heads).
    with dg.DagsterInstance.from_config(str(home)):
        pass
    # What each run's process does first: load the definitions (here, just their seeding).
    code = (
        "from spotify_assets.playlist_partitions import add_configured_playlists_at_load\n"
        "print(len(add_configured_playlists_at_load()))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert not any("could not add" in err for _, err in outputs), outputs
    # Each playlist added once, by whichever process got there first.
    assert sum(int(out) for out, _ in outputs) == len(SAMPLE_PLAYLIST_IDS)
    assert sorted(_playlists(home)) == sorted(SAMPLE_PLAYLIST_IDS)
