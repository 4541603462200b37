"""Data for the web tests: the sample lake plus a sixth playlist whose name, one track and that
track's lead artist are an HTML payload; its serving tables (SQLite here, DynamoDB through the
same IO manager) and the dashboard files the ``analytics/dashboard`` asset writes for it all.
Also a lake of one big playlist, for what a burst of requests costs.

The extra playlists are written with the pure transforms rather than Dagster runs: they are not
configured playlists, so they have no partitions.

The app is called in process (:func:`call`) or over HTTP on 127.0.0.1 (:func:`serving`).

Also the rule for tests that need Chromium or npm's Chart.js: skipped without them, failed in CI.
"""

import asyncio
import copy
import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import pyarrow.parquet as pq
import pytest
import uvicorn
from cfnlint.decode import decode_str

from spotify_assets import constants
from spotify_assets.assets.analytics import dashboard
from spotify_assets.aws.storage import create_bucket, create_tables
from spotify_assets.io_managers.dynamodb import DynamoDBServingStore
from spotify_assets.io_managers.object_store import JSON, PARQUET, encode, partition_path
from spotify_assets.io_managers.serving import (
    ServingIOManager,
    ServingStore,
    SQLiteServingStore,
)
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import (
    SAMPLE_PLAYLIST_IDS,
    SAMPLE_WEEKS,
    SMALL_PLAYLIST_ID,
    synthetic_playlist,
)
from spotify_assets.sql.dashboard import DASHBOARD_FOLDER
from spotify_assets.transforms import normalize_playlist
from spotify_assets.web.server import server_config
from spotify_assets_tests.conftest import local_resources, materialize
from spotify_assets_tests.sql_lakes import sample_lake

# CI installs Chromium and runs `npm ci`: there, a test that would skip for want of either fails.
BROWSER_TESTS_REQUIRED = os.environ.get("SPOTIFY_ASSETS_BROWSER_TESTS") == "required"
XSS = "<img src=x onerror=alert(1)>"
XSS_PLAYLIST_ID = "7XssXssXssXssXssXssXss"
WEB_PLAYLIST_IDS = [*SAMPLE_PLAYLIST_IDS, XSS_PLAYLIST_ID]
LATEST_WEEK = SAMPLE_WEEKS[-1]
BIG_PLAYLIST_ID = "0BigBigBigBigBigBigBig1"
BIG_PLAYLIST_ENTRIES = 5000
_web_lake: Path | None = None
_big_lake: Path | None = None


def unavailable(reason: str):
    """Skips the test for want of Chromium or npm's Chart.js, or fails it where they must be."""
    if BROWSER_TESTS_REQUIRED:
        pytest.fail(f"this test must run here: {reason}")
    pytest.skip(reason)


def _items(playlist: dict) -> list[dict]:
    return (playlist.get("items") or playlist.get("tracks"))["items"]


def _track(entry: dict) -> dict | None:
    return entry.get("item") or entry.get("track")


def xss_target(recordings: dict[str, dict]) -> tuple[str, str]:
    """The track and artist to rename: the first track the latest week added, and its lead."""
    previous = {(_track(e) or {}).get("id") for e in _items(recordings[SAMPLE_WEEKS[-2]])}
    for entry in _items(recordings[LATEST_WEEK]):
        track = _track(entry)
        if track and track.get("type") == "track" and track.get("id") not in previous:
            return track["id"], track["artists"][0]["id"]
    raise AssertionError("the small playlist's latest week added no track")


def xss_recordings() -> dict[str, dict]:
    """The small sample playlist's weeks under another id, with the payload as the playlist's
    name, one track's name and that track's lead artist's name, in every week."""
    recordings = {
        week: json.loads((SAMPLE_DATA_DIR / SMALL_PLAYLIST_ID / f"{week}.json").read_bytes())
        for week in SAMPLE_WEEKS
    }
    track_id, artist_id = xss_target(recordings)
    renamed = {}
    for week, original in recordings.items():
        playlist = copy.deepcopy(original)
        playlist["id"] = XSS_PLAYLIST_ID
        playlist["name"] = XSS
        playlist["uri"] = f"spotify:playlist:{XSS_PLAYLIST_ID}"
        for entry in _items(playlist):
            track = _track(entry)
            if not track:
                continue
            if track.get("id") == track_id:
                track["name"] = XSS
            for artist in [*track.get("artists", []), *track.get("album", {}).get("artists", [])]:
                if artist.get("id") == artist_id:
                    artist["name"] = XSS
        renamed[week] = playlist
    return renamed


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def normalized_table(data_dir: Path, table: str, playlist: str, week: str):
    base = data_dir / constants.NORMALIZED / table
    return pq.read_table(partition_path(base, table, PARQUET, playlist, week))


def serve_latest_weeks(store: ServingStore, data_dir: Path) -> None:
    """Each playlist's latest week into a serving store, through the serving IO manager."""
    io_manager = ServingIOManager(store)
    for playlist in WEB_PLAYLIST_IDS:
        partition = dg.MultiPartitionKey(
            {constants.PLAYLIST: playlist, constants.WEEK: LATEST_WEEK}
        )
        for table in constants.SERVING_TABLES:
            context = dg.build_output_context(
                asset_key=[constants.SERVING, table], partition_key=partition
            )
            io_manager.handle_output(
                context, normalized_table(data_dir, table, playlist, LATEST_WEEK)
            )


def raw_snapshot(data_dir: Path, playlist_id: str, week: str) -> Path:
    raw = data_dir / constants.RAW / "playlist_json"
    return partition_path(raw, "playlist_json", JSON, playlist_id, week)


def write_playlist(data_dir: Path, playlist: dict, week: str) -> None:
    """A playlist's raw snapshot and normalized tables for one week, as the runs write them."""
    _write(raw_snapshot(data_dir, playlist["id"], week), encode(playlist, JSON))
    for table, rows in normalize_playlist(playlist, week=week).items():
        base = data_dir / constants.NORMALIZED / table
        _write(partition_path(base, table, PARQUET, playlist["id"], week), encode(rows, PARQUET))


def web_lake(tmp_path_factory) -> Path:
    """A data dir with the raw snapshots and normalized tables of the sample playlists and the
    payload playlist, every week; the latest week of each in the SQLite serving store; and the
    dashboard files. Built once per session: read it, never write to it."""
    global _web_lake
    if _web_lake is None:
        data_dir = tmp_path_factory.mktemp("web_lake") / "data"
        sample = sample_lake(tmp_path_factory)
        for folder in (f"{constants.RAW}/playlist_json", constants.NORMALIZED):
            shutil.copytree(sample / folder, data_dir / folder)
        for week, playlist in xss_recordings().items():
            write_playlist(data_dir, playlist, week)
        serve_latest_weeks(SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME), data_dir)
        assert materialize([dashboard], resources=local_resources(data_dir)).success
        _web_lake = data_dir
    return _web_lake


def big_lake(tmp_path_factory) -> Path:
    """A data dir with one playlist of ``BIG_PLAYLIST_ENTRIES`` tracks in one week: its raw
    snapshot (some 10 MB), its normalized tables and the dashboard files, whose longer views
    take several files; no serving store. Built once per session: read it, never write to it."""
    global _big_lake
    if _big_lake is None:
        data_dir = tmp_path_factory.mktemp("big_lake") / "data"
        playlist = synthetic_playlist(BIG_PLAYLIST_ENTRIES, playlist_id=BIG_PLAYLIST_ID)
        write_playlist(data_dir, playlist, LATEST_WEEK)
        assert materialize([dashboard], resources=local_resources(data_dir)).success
        _big_lake = data_dir
    return _big_lake


# --- calling the app ----------------------------------------------------------------------------


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread, with the bounds of `spotify-assets
    serve`; yields its base URL."""
    # asyncio's own loop: uvloop (uvicorn's default where installed) in a second thread keeps
    # the interpreter from tearing down cleanly at exit, and DuckDB then reports leaks.
    config = server_config(app, "127.0.0.1", 0, log_level="warning", lifespan="off", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Answer:
    """One HTTP response from the app."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def call(app, url: str, method: str = "GET", headers: dict | None = None) -> Answer:
    """One request to an ASGI app, in process: no server, no socket."""
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": urllib.parse.unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], response_headers, body)


# --- the same data in AWS (moto's server) -------------------------------------------------------

WEB_TABLE_PREFIX = "web_"
WEB_BUCKET = "spotify-assets-web-test"
WEB_S3_PREFIX = "lake"
REGION = "eu-west-1"


def set_aws_environment(monkeypatch, endpoint_url: str) -> None:
    """The aws deployment's variables, pointed at moto's server with fake credentials."""
    for variable in list(os.environ):
        if variable.startswith(("AWS_", "DAGSTER_CLOUD_")):
            monkeypatch.delenv(variable)
    for variable, value in {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        constants.ENV_DEPLOYMENT: "aws",
        constants.ENV_S3_BUCKET: WEB_BUCKET,
        constants.ENV_S3_PREFIX: WEB_S3_PREFIX,
        constants.ENV_DYNAMODB_TABLE_PREFIX: WEB_TABLE_PREFIX,
    }.items():
        monkeypatch.setenv(variable, value)


def fill_aws(data_dir: Path, endpoint_url: str) -> None:
    """Empties moto's server, then creates the tables and the bucket as `spotify-assets aws
    init` does, serves each playlist's latest week into DynamoDB through the serving IO manager,
    and uploads the dashboard files to S3 (and no raw snapshot: the API never reads one)."""
    urllib.request.urlopen(
        urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    ).close()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    create_tables(dynamodb, WEB_TABLE_PREFIX)
    create_bucket(s3, WEB_BUCKET)
    serve_latest_weeks(DynamoDBServingStore(dynamodb, WEB_TABLE_PREFIX), data_dir)
    for path in sorted((data_dir / DASHBOARD_FOLDER).rglob("*.json")):
        key = f"{WEB_S3_PREFIX}/{path.relative_to(data_dir).as_posix()}"
        s3.put_object(Bucket=WEB_BUCKET, Key=key, Body=path.read_bytes())


# --- the dashboard's CloudFormation template ----------------------------------------------------

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "aws" / "dashboard.yaml"


def load_template() -> dict:
    template, matches = decode_str(TEMPLATE.read_text())
    assert matches == []
    return template


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    """The properties of the template's resources of one type, by logical id."""
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def role_statements(template: dict) -> list[dict]:
    """The statements of the read API's role."""
    [role] = resources(template, "AWS::IAM::Role").values()
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
