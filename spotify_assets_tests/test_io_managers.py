"""The object store's exact paths and round trips, and the serving store's rules: one contract
suite, run against SQLite and against DynamoDB (moto's server)."""

import datetime as dt
import errno
import os
import stat
import time

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotify_assets import constants
from spotify_assets.io_managers.object_store import (
    CSV,
    JSON,
    ORPHANED_AFTER_SECONDS,
    PARQUET,
    STORAGE_FORMAT,
    LocalObjectStore,
    ObjectStoreIOManager,
)
from spotify_assets.io_managers.serving import (
    ServingIOManager,
    ServingStore,
    SQLiteServingStore,
    serving_schema,
)
from spotify_assets.partitions import week_playlist_partitions
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import schema
from spotify_assets_tests.conftest import materialize, partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEK = SAMPLE_WEEKS[-1]
DOCUMENT = {"id": PLAYLIST, "name": 'Ünïcode, "quotes" and 🎧', "items": {"items": [], "total": 0}}
CSV_TABLE = pa.Table.from_pylist(
    [
        {"position": 0, "item_type": "track", "name": 'a, "b"\r\nc 🎧'},
        {"position": 1, "item_type": "local"},
    ],
    schema=pa.schema(schema.PLAYLIST_CSV),
)
ARTISTS = pa.Table.from_pylist(
    [{"artist_id": "a1", "artist_name": "Ана", "external_url": None, "uri": "spotify:artist:a1"}],
    schema=schema.ARTISTS,
)


def _stored_assets(loaded: dict):
    def stored(name: str, storage_format: str, value):
        @dg.asset(
            key=[constants.RAW if storage_format != PARQUET else constants.NORMALIZED, name],
            partitions_def=week_playlist_partitions,
            io_manager_key="object_store",
            metadata={STORAGE_FORMAT: storage_format},
        )
        def _asset():
            return value

        return _asset

    json_asset = stored("playlist_json", JSON, DOCUMENT)
    csv_asset = stored("playlist_csv", CSV, CSV_TABLE)
    parquet_asset = stored("artists", PARQUET, ARTISTS)

    @dg.asset(
        partitions_def=week_playlist_partitions,
        ins={
            "document": dg.AssetIn(json_asset.key),
            "csv_table": dg.AssetIn(csv_asset.key),
            "artists": dg.AssetIn(parquet_asset.key),
        },
        io_manager_key="mem",
    )
    def reader(document, csv_table, artists):
        loaded.update(document=document, csv_table=csv_table, artists=artists)

    return [json_asset, csv_asset, parquet_asset, reader]


def test_object_store_writes_the_hive_layout_and_reads_it_back(data_dir):
    loaded = {}
    result = materialize(
        _stored_assets(loaded),
        partition_key=partition(PLAYLIST, WEEK),
        resources={
            "object_store": LocalObjectStore(data_dir=str(data_dir)),
            "mem": dg.InMemoryIOManager(),
        },
    )
    assert result.success
    prefix = f"week={WEEK}/playlist={PLAYLIST}"
    written = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file())
    assert written == [
        f"normalized/artists/{prefix}/artists.parquet",
        f"raw/playlist_csv/{prefix}/playlist.csv",
        f"raw/playlist_json/{prefix}/playlist.json",
    ]
    assert loaded["document"] == DOCUMENT
    assert loaded["csv_table"].equals(CSV_TABLE)
    assert loaded["artists"].equals(ARTISTS)
    # No partition column inside the files: readers take week and playlist from the path.
    parquet_file = data_dir / f"normalized/artists/{prefix}/artists.parquet"
    assert pq.read_schema(parquet_file).names == schema.ARTISTS.names
    csv_header = (
        (data_dir / f"raw/playlist_csv/{prefix}/playlist.csv").read_bytes().split(b"\r\n")[0]
    )
    assert constants.WEEK.encode() not in csv_header
    metadata = result.asset_materializations_for_node("raw__playlist_json")[0].metadata
    assert metadata["bytes_written"].value == os.path.getsize(
        data_dir / f"raw/playlist_json/{prefix}/playlist.json"
    )
    assert metadata["path"].value.endswith(f"raw/playlist_json/{prefix}/playlist.json")


def test_object_store_write_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    from upath import UPath

    manager = ObjectStoreIOManager(base_path=UPath(tmp_path))
    target = UPath(tmp_path / "f.json")
    manager.write_bytes(target, b"old", "application/json")

    def broken_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        manager.write_bytes(target, b"new", "application/json")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]  # no temporary file left


def test_a_full_disk_fails_the_partition_naming_it_and_keeps_the_stored_file(data_dir, monkeypatch):
    resources = {
        "object_store": LocalObjectStore(data_dir=str(data_dir)),
        "mem": dg.InMemoryIOManager(),
    }
    assets = _stored_assets({})
    materialize(assets, partition_key=partition(PLAYLIST, WEEK), resources=resources)
    stored = {path: path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    result = materialize(
        assets,
        partition_key=partition(PLAYLIST, WEEK),
        resources=resources,
        raise_on_error=False,
    )
    messages = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert len(messages) == 3  # the JSON, CSV and Parquet assets
    for message in messages:
        assert f"playlist {PLAYLIST!r}, week {WEEK}: writing " in message
        assert "failed (No space left on device); the stored file, if any, is as it was" in message
    assert {path: path.read_bytes() for path in data_dir.rglob("*") if path.is_file()} == stored


def test_the_next_write_of_a_partition_removes_what_killed_runs_left(data_dir):
    resources = {
        "object_store": LocalObjectStore(data_dir=str(data_dir)),
        "mem": dg.InMemoryIOManager(),
    }
    assets = _stored_assets({})
    materialize(assets, partition_key=partition(PLAYLIST, WEEK), resources=resources)
    folder = data_dir / f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}"
    killed_run = folder / ".playlist.json.k1ll3d.tmp"
    writing_now = folder / ".playlist.json.wr1t1ng.tmp"  # another run's write in progress
    for temporary in (killed_run, writing_now):
        temporary.write_bytes(b'{"half": ')
    long_ago = time.time() - ORPHANED_AFTER_SECONDS - 1
    os.utime(killed_run, (long_ago, long_ago))

    materialize(assets, partition_key=partition(PLAYLIST, WEEK), resources=resources)

    assert sorted(p.name for p in folder.iterdir()) == [writing_now.name, "playlist.json"]


def test_a_local_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    from upath import UPath

    manager = ObjectStoreIOManager(base_path=UPath(tmp_path))
    done = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        done.append("sync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "sync file")
        fsync(fd)

    def recording_replace(source, destination):
        done.append("rename")
        replace(source, destination)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    manager.write_bytes(UPath(tmp_path / "f.json"), b"{}", "application/json")

    assert done == ["sync file", "rename", "sync folder"]
    assert (tmp_path / "f.json").read_bytes() == b"{}"


# --- serving store: the same contract for every backend --------------------------------------


@pytest.fixture(params=["sqlite", "dynamodb"])
def serving_store(request, data_dir) -> ServingStore:
    if request.param == "sqlite":
        return SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)
    return request.getfixturevalue("dynamodb_store")


def _write(manager: ServingIOManager, table_name: str, rows: list[dict], playlist: str, week: str):
    table_schema = schema.TABLE_SCHEMAS[table_name]
    context = dg.build_output_context(
        asset_key=dg.AssetKey([constants.SERVING, table_name]),
        partition_key=partition(playlist, week),
    )
    manager.handle_output(context, pa.Table.from_pylist(rows, schema=table_schema))
    return {key: value.value for key, value in context.get_logged_metadata().items()}


def _song(song_id: str, name: str, added_ms: int | None = None) -> dict:
    return {
        "song_id": song_id,
        "song_name": name,
        "duration_ms": 1000,
        "song_added": None
        if added_ms is None
        else pa.scalar(added_ms, pa.int64()).cast(schema.TIMESTAMP).as_py(),
        "explicit": False,
    }


@pytest.fixture
def manager(serving_store) -> ServingIOManager:
    return ServingIOManager(serving_store)


def test_serving_upsert_writes_only_new_or_changed_rows(manager, serving_store):
    first = _write(manager, "songs", [_song("s1", "One"), _song("s2", "Two")], "p", "2026-09-07")
    assert (first["rows_written"], first["rows_unchanged"]) == (2, 0)
    again = _write(manager, "songs", [_song("s1", "One"), _song("s2", "Two")], "p", "2026-09-07")
    assert (again["rows_written"], again["rows_unchanged"]) == (0, 2)
    changed = _write(
        manager, "songs", [_song("s1", "One (remaster)"), _song("s2", "Two")], "p", "2026-09-14"
    )
    assert (changed["rows_written"], changed["rows_unchanged"]) == (1, 1)
    stored = serving_store.read_table("songs").select(["song_id", "song_name"]).to_pylist()
    assert stored == [
        {"song_id": "s1", "song_name": "One (remaster)"},
        {"song_id": "s2", "song_name": "Two"},
    ]


def test_serving_never_overwrites_a_row_that_a_newer_week_wrote(manager, serving_store):
    _write(manager, "songs", [_song("s1", "New name")], "p", "2026-09-14")
    older = _write(
        manager, "songs", [_song("s1", "Old name"), _song("s3", "Three")], "q", "2026-09-07"
    )
    assert older["rows_written"] == 2  # s3, and s1's history (its row stays the newer one)
    names = {
        row["song_id"]: row["song_name"] for row in serving_store.read_table("songs").to_pylist()
    }
    assert names == {"s1": "New name", "s3": "Three"}


def test_serving_song_added_keeps_the_earliest_time(manager, serving_store):
    _write(manager, "songs", [_song("s1", "One", added_ms=2_000)], "p", "2026-09-07")
    _write(manager, "songs", [_song("s1", "One", added_ms=1_000)], "q", "2026-09-07")
    _write(manager, "songs", [_song("s1", "One", added_ms=3_000)], "p", "2026-09-14")
    [row] = serving_store.read_table("songs").to_pylist()
    assert row["song_added"].timestamp() == 1.0


def _entry(position: int, song_id: str | None, snapshot_id: str | None = None) -> dict:
    return {
        "position": position,
        "item_type": "track" if song_id else "unavailable",
        "song_id": song_id,
        "snapshot_id": snapshot_id,
    }


def test_serving_playlist_entries_replace_by_newer_week_and_delete_past_the_end(
    manager, serving_store
):
    _write(
        manager,
        "playlist_entries",
        [_entry(0, "s1"), _entry(1, "s2"), _entry(2, None)],
        "p",
        "2026-09-07",
    )
    _write(manager, "playlist_entries", [_entry(0, "s9")], "q", "2026-09-07")
    newer = _write(
        manager, "playlist_entries", [_entry(0, "s2"), _entry(1, "s3")], "p", "2026-09-14"
    )
    # s2 stays where it was; s3 takes the item of s1, and the unavailable entry goes.
    assert (newer["rows_written"], newer["rows_deleted"]) == (1, 1)
    older = _write(manager, "playlist_entries", [_entry(0, "s1")], "p", "2026-09-07")
    assert (older["rows_written"], older["rows_deleted"]) == (0, 0)
    assert "not the newest" in older["note"]
    same = _write(
        manager, "playlist_entries", [_entry(0, "s2"), _entry(1, "s3")], "p", "2026-09-21"
    )
    assert (same["rows_written"], same["rows_unchanged"]) == (0, 2)
    current = serving_store.read_table("playlist_entries", playlist_id="p")
    assert current.select(["playlist_id", "position", "song_id"]).to_pylist() == [
        {"playlist_id": "p", "position": 0, "song_id": "s2"},
        {"playlist_id": "p", "position": 1, "song_id": "s3"},
    ]
    assert serving_store.read_table("playlist_entries", playlist_id="q").num_rows == 1


def test_serving_round_trip_keeps_every_column_type_and_null(manager, serving_store):
    rows = [
        {
            **_song("s1", 'Ünï, "q"\n🎧', added_ms=1_767_225_600_000),
            "popularity": 7,
            "isrc": "X",
            "explicit": True,
            "disc_number": 1,
            "track_number": 2,
        },
        {"song_id": "s2"},
    ]
    _write(manager, "songs", rows, "p", "2026-09-07")
    expected = pa.Table.from_pylist(rows, schema=schema.SONGS)
    assert serving_store.read_table("songs").equals(expected)
    assert serving_store.read_table("artists").schema == schema.ARTISTS


def test_serving_entries_write_only_the_positions_that_changed(manager, serving_store):
    _write(
        manager,
        "playlist_entries",
        [_entry(0, "s1", "snap1"), _entry(1, "s2", "snap1"), _entry(2, "s3", "snap1")],
        "p",
        "2026-09-07",
    )
    # A new snapshot id on every entry is one change of the playlist, not of every position.
    changed = _write(
        manager,
        "playlist_entries",
        [_entry(0, "s1", "snap2"), _entry(1, "s9", "snap2"), _entry(2, "s3", "snap2")],
        "p",
        "2026-09-14",
    )
    assert (changed["rows_written"], changed["rows_unchanged"]) == (1, 2)
    current = serving_store.read_table("playlist_entries", playlist_id="p")
    assert current.select(["song_id", "snapshot_id"]).to_pylist() == [
        {"song_id": "s1", "snapshot_id": "snap2"},
        {"song_id": "s9", "snapshot_id": "snap2"},
        {"song_id": "s3", "snapshot_id": "snap2"},
    ]
    emptied = _write(manager, "playlist_entries", [], "p", "2026-09-21")
    assert (emptied["rows_written"], emptied["rows_deleted"]) == (0, 3)
    assert serving_store.read_table("playlist_entries", playlist_id="p").num_rows == 0
    older = _write(manager, "playlist_entries", [_entry(0, "s1", "snap1")], "p", "2026-09-14")
    assert older["rows_written"] == 0  # the empty newer snapshot is still the served one
    assert serving_store.read_table("playlist_entries", playlist_id="p").num_rows == 0


def _full_row(table_schema: pa.Schema, index: int) -> dict:
    """A row with every column set, of every type the schemas use."""
    values = {
        pa.string(): f'Ünï, "q"\n🎧 {index}',
        pa.int64(): 2**53 + index,  # beyond a double's exact integers
        pa.bool_(): bool(index % 2),
        schema.TIMESTAMP: dt.datetime(2026, 1, 1, 0, 0, index, 1000, tzinfo=dt.UTC),
    }
    return {field.name: values[field.type] for field in table_schema}


def _sparse_row(table_schema: pa.Schema, index: int) -> dict:
    """Nulls wherever a column allows them, except names: empty strings are values, not nulls."""
    row = _full_row(table_schema, index)
    for field in table_schema:
        if field.nullable:
            row[field.name] = "" if field.name.endswith("name") else None
    return row


@pytest.mark.parametrize("table", constants.SERVING_TABLES)
def test_serving_round_trip_of_every_table_keeps_every_type_and_null(manager, serving_store, table):
    lake_schema = schema.TABLE_SCHEMAS[table]
    rows = [_full_row(lake_schema, 0), _sparse_row(lake_schema, 1), _full_row(lake_schema, 2)]
    if table == constants.PLAYLIST_ENTRIES:
        for position, row in enumerate(rows):
            row.update(position=position, snapshot_id="snap")
    playlists = ["p"] * 3
    if table == constants.PLAYLISTS:  # one row per snapshot: each its own playlist's
        playlists = ["p0", "p1", "p2"]
        for playlist, row in zip(playlists, rows, strict=True):
            _write(manager, table, [row], playlist, "2026-09-07")
    else:
        _write(manager, table, rows, "p", "2026-09-07")
    expected = pa.Table.from_pylist(rows, schema=lake_schema)
    if table in (constants.PLAYLIST_ENTRIES, constants.PLAYLISTS):
        expected = expected.add_column(0, "playlist_id", pa.array(playlists))
    read_one = None if table == constants.PLAYLISTS else "p"
    stored = serving_store.read_table(table, playlist_id=read_one)
    assert stored.schema == serving_schema(table)
    assert stored.to_pylist() == expected.cast(serving_schema(table)).to_pylist()


def test_local_files_get_the_umask_mode_not_a_private_one(tmp_path):
    from upath import UPath

    manager = ObjectStoreIOManager(base_path=UPath(tmp_path))
    target = UPath(tmp_path / "f.json")
    previous = os.umask(0o022)
    try:
        manager.write_bytes(target, b"{}", "application/json")
    finally:
        os.umask(previous)
    assert os.stat(target).st_mode & 0o777 == 0o644
