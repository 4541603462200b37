"""The whole graph materialized from a fake Spotify on 127.0.0.1, with the live source exactly as
deployment.py builds it from the environment: the same tables as the replay of the same document,
one request when nothing changed, and no secret anywhere a run writes."""

import base64
import datetime as dt
import json
import logging

import dagster as dg
import pytest
from upath import UPath

from spotify_assets import constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.io_managers.object_store import LocalObjectStore, ObjectStoreIOManager
from spotify_assets.io_managers.serving import SQLiteServingStore
from spotify_assets.sources import SAMPLE_DATA_DIR, LiveSource, ReplaySource
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets_tests.conftest import local_resources, materialize, partition
from spotify_assets_tests.fake_spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSpotify,
)

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEK = SAMPLE_WEEKS[1]
NOW = dt.datetime.fromisoformat(WEEK).replace(tzinfo=dt.UTC) + dt.timedelta(days=7, hours=6)


@pytest.fixture
def spotify():
    with FakeSpotify() as fake:
        fake.add_playlist(_recording())
        yield fake


@pytest.fixture
def waits(spotify, monkeypatch) -> list[float]:
    """The Spotify settings in the environment, and a clock at the schedule's tick after WEEK."""
    for name, value in {
        "SPOTIFY_CLIENT_ID": CLIENT_ID,
        "SPOTIFY_CLIENT_SECRET": CLIENT_SECRET,
        "SPOTIFY_REFRESH_TOKEN": REFRESH_TOKEN,
        "SPOTIFY_PLAYLISTS": f"https://open.spotify.com/intl-fr/playlist/{PLAYLIST}?si=abc",
        "SPOTIFY_API_BASE_URL": spotify.api_base_url,
        "SPOTIFY_ACCOUNTS_BASE_URL": spotify.accounts_base_url,
    }.items():
        monkeypatch.setenv(name, value)
    recorded: list[float] = []
    monkeypatch.setattr(LiveSource, "now", lambda self: NOW)
    monkeypatch.setattr(LiveSource, "sleep", lambda self, seconds: recorded.append(seconds))
    return recorded


def _recording() -> dict:
    return json.loads((SAMPLE_DATA_DIR / PLAYLIST / f"{WEEK}.json").read_bytes())


def _live_resources(data_dir) -> dict:
    source = deployment.playlist_source()
    assert isinstance(source, LiveSource)
    return {**local_resources(data_dir), "playlist_source": source}


# The week x playlist graph; other groups may be partitioned differently.
PARTITIONED_GRAPH = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)


def _materialize(resources, instance, raise_on_error=True) -> dg.ExecuteInProcessResult:
    return materialize(
        all_assets,
        selection=PARTITIONED_GRAPH,
        partition_key=partition(PLAYLIST, WEEK),
        resources=resources,
        instance=instance,
        raise_on_error=raise_on_error,
    )


def _raw_metadata(result: dg.ExecuteInProcessResult) -> dict:
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "playlist_json"
    ]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def _lake_files(data_dir) -> dict[str, bytes]:
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and not path.name.startswith(constants.SQLITE_FILE_NAME)
    }


def _served(data_dir) -> dict:
    store = SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)
    return {table: store.read_table(table) for table in constants.SERVING_TABLES}


def test_a_live_materialization_produces_what_the_replay_of_the_same_document_does(
    spotify, waits, tmp_path, instance
):
    live_dir, replay_dir = tmp_path / "live", tmp_path / "replay"

    live = _materialize(_live_resources(live_dir), instance)
    _materialize(local_resources(replay_dir), instance)

    files = _lake_files(live_dir)
    assert files == _lake_files(replay_dir)
    assert f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}/playlist.json" in files
    served = _served(live_dir)
    for table, expected in _served(replay_dir).items():
        assert served[table].equals(expected), table

    recording = _recording()
    pages = -(-(recording["items"]["total"] - 50) // 50)
    metadata = _raw_metadata(live)
    assert metadata["request_count"] == 1 + pages + 1
    assert metadata["unchanged"] is False
    assert metadata["requests_saved"] == 0
    assert metadata["snapshot_id"] == recording["snapshot_id"]
    assert metadata["source"] == f"{spotify.api_base_url}/playlists/{PLAYLIST}"
    assert [r.path for r in spotify.requests] == [
        "/api/token",
        f"/v1/playlists/{PLAYLIST}",
        *[f"/v1/playlists/{PLAYLIST}/items"] * pages,
        f"/v1/playlists/{PLAYLIST}",
    ]
    assert waits == []


class ReadRecordingIOManager(ObjectStoreIOManager):
    """An object store that overrides only the byte access, as the S3 flavour does."""

    reads: list[str] = []

    def read_bytes(self, path) -> bytes:
        self.reads.append(str(path))
        return super().read_bytes(path)


class ReadRecordingObjectStore(LocalObjectStore):
    def create_io_manager(self, context) -> ObjectStoreIOManager:
        return ReadRecordingIOManager(base_path=UPath(self.data_dir))


def test_an_unchanged_playlist_is_read_with_one_request(
    spotify, waits, data_dir, instance, monkeypatch
):
    _materialize(_live_resources(data_dir), instance)
    files = _lake_files(data_dir)
    spotify.requests.clear()
    monkeypatch.setattr(ReadRecordingIOManager, "reads", [])
    resources = {
        **_live_resources(data_dir),
        "object_store": ReadRecordingObjectStore(data_dir=str(data_dir)),
    }

    rerun = _materialize(resources, instance)

    assert [(r.method, r.path) for r in spotify.requests] == [
        ("POST", "/api/token"),
        ("GET", f"/v1/playlists/{PLAYLIST}"),
    ]
    metadata = _raw_metadata(rerun)
    assert metadata["request_count"] == 1
    assert metadata["unchanged"] is True
    assert metadata["requests_saved"] == -(-(_recording()["items"]["total"] - 50) // 50) + 1
    assert metadata["entries_reused_from_week"] == WEEK
    assert _lake_files(data_dir) == files
    # The pointer, then the stored snapshot, came back through the object store's read_bytes,
    # whatever stores them.
    pointer_path = data_dir / f"latest/playlist_json/playlist={PLAYLIST}.json"
    raw_path = data_dir / f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}/playlist.json"
    assert ReadRecordingIOManager.reads[:2] == [str(pointer_path), str(raw_path)]


def test_a_stored_snapshot_that_is_gone_costs_the_pages_not_the_run(
    spotify, waits, data_dir, instance
):
    _materialize(_live_resources(data_dir), instance)
    files = _lake_files(data_dir)
    (data_dir / f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}/playlist.json").unlink()
    spotify.requests.clear()

    rerun = _materialize(_live_resources(data_dir), instance)

    assert _raw_metadata(rerun)["unchanged"] is False
    assert len(spotify.requests) == 1 + _raw_metadata(rerun)["request_count"] > 2
    assert _lake_files(data_dir) == files


def test_a_wiped_dagster_home_with_the_lake_kept_still_finds_the_playlist_unchanged(
    spotify, waits, data_dir
):
    with dg.instance_for_test() as first_home:
        _materialize(_live_resources(data_dir), first_home)
    spotify.requests.clear()

    with dg.instance_for_test() as fresh_home:  # no event log: only the lake remembers
        rerun = _materialize(_live_resources(data_dir), fresh_home)

    assert _raw_metadata(rerun)["unchanged"] is True
    assert [(r.method, r.path) for r in spotify.requests] == [
        ("POST", "/api/token"),
        ("GET", f"/v1/playlists/{PLAYLIST}"),
    ]


class Killed(BaseException):
    """The process dying at this point: nothing after it runs, no handler catches it."""


def _killed(*args, **kwargs):
    raise Killed


def test_a_rerun_killed_between_its_snapshot_and_its_pointer_is_never_reused(
    spotify, waits, data_dir, replay_dir, instance, monkeypatch
):
    """The week stored again (a replayed recording, edited since, with the same snapshot id)
    and the process killed before the pointer followed: the pointer still describes the old
    file, so the next live run reads every page instead of reusing the edited entries."""
    _materialize(_live_resources(data_dir), instance)
    edited = _recording()
    edited["items"]["items"][0]["item"]["name"] = "edited since"
    (replay_dir / PLAYLIST / f"{WEEK}.json").write_text(json.dumps(edited))
    with monkeypatch.context() as patched:
        patched.setattr(ObjectStoreIOManager, "advance_latest_pointer", _killed)
        with pytest.raises(Killed):
            _materialize(local_resources(data_dir, replay_dir), instance)
    stored = data_dir / f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}/playlist.json"
    assert json.loads(stored.read_bytes()) == edited
    spotify.requests.clear()

    rerun = _materialize(_live_resources(data_dir), instance)

    assert _raw_metadata(rerun)["unchanged"] is False
    assert len(spotify.requests) > 2  # every page, not the edited entries
    assert json.loads(stored.read_bytes()) == _recording()


def test_no_secret_reaches_files_event_log_or_logs(
    spotify, waits, data_dir, instance, caplog, capfd
):
    spotify.rate_limit(f"/v1/playlists/{PLAYLIST}/items", retry_after=3)
    spotify.answer("GET", f"/v1/playlists/{PLAYLIST}", 502)
    with caplog.at_level(logging.DEBUG):
        succeeded = _materialize(_live_resources(data_dir), instance)
        spotify.revoked = True
        failed = _materialize(_live_resources(data_dir), instance, raise_on_error=False)

    assert waits == [1, 3]
    assert not failed.success
    [failure] = [e for e in failed.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "run `spotify-assets login` again" in failure.step_failure_data.error.message

    written = {
        "files under the data dir": b"".join(
            path.read_bytes() for path in data_dir.rglob("*") if path.is_file()
        ).decode("utf-8", "replace"),
        "the event log": "".join(
            dg.serialize_value(entry)
            for result in (succeeded, failed)
            for entry in instance.all_logs(result.run_id)
        ),
        "the runs": "".join(
            dg.serialize_value(instance.get_run_by_id(result.run_id))
            for result in (succeeded, failed)
        ),
        "the captured logs": caplog.text,
        "stdout and stderr": "".join(capfd.readouterr()),
    }
    assert "rate-limited by Spotify (429)" in written["the event log"]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    secrets = (CLIENT_SECRET, REFRESH_TOKEN, basic, *spotify.issued_access_tokens)
    assert len(spotify.issued_access_tokens) == 1
    for where, text in written.items():
        for secret in secrets:
            assert secret not in text, f"a secret in {where}"


def test_the_deployment_picks_the_live_source_only_with_all_three_credentials(monkeypatch):
    monkeypatch.delenv("SPOTIFY_REFRESH_TOKEN", raising=False)
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
    assert isinstance(deployment.playlist_source(), ReplaySource)

    monkeypatch.setenv("SPOTIFY_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.setenv(
        "SPOTIFY_PLAYLISTS", f"spotify:playlist:{PLAYLIST}, {SAMPLE_PLAYLIST_IDS[1]}"
    )
    source = deployment.playlist_source()
    assert isinstance(source, LiveSource)
    # The secrets stay references to the environment: the UI shows their names only.
    assert isinstance(source.client_secret, dg.EnvVar)
    assert isinstance(source.refresh_token, dg.EnvVar)
    assert deployment.configured_playlist_ids() == [PLAYLIST, SAMPLE_PLAYLIST_IDS[1]]
    assert source.playlist_ids() == [PLAYLIST, SAMPLE_PLAYLIST_IDS[1]]
