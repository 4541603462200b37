"""The serving store's rule as properties: whatever the order, the repetition and the concurrency
of the partitions, the store equals a chronological build from the lake; a reader sees a
playlist's old snapshot or its new one; an entry change costs one write. On SQLite and on
DynamoDB through moto's server."""

import datetime as dt
import random
import shutil
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from spotify_assets import constants
from spotify_assets.cli import main
from spotify_assets.cli_serving import lake_partitions, rebuild
from spotify_assets.io_managers.serving import (
    SERVING_ORDER,
    ConcurrentWriteError,
    ServingStore,
    ServingStoreError,
    ServingWriter,
    SQLiteServingStore,
    plain_rows,
    store_state,
)
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.replay import read_replay_file, recorded_weeks, replay_playlist_ids
from spotify_assets.sources.sample_generator import churn, synthetic_playlist
from spotify_assets.transforms.normalize import normalize_playlist
from spotify_assets.transforms.serving_state import chronological_build
from spotify_assets_tests.conftest import local_resources
from spotify_assets_tests.sql_lakes import sample_lake

EPOCH_1970 = 0
DAY_MS = 86_400_000


def sample_partitions(playlists: int = 2, weeks: int = 3) -> list:
    """Partitions of the sample recordings, normalized: ``(playlist, week, {table: rows})``;
    each playlist's history ends in a different week."""
    partitions = []
    for index, playlist_id in enumerate(replay_playlist_ids(SAMPLE_DATA_DIR)[:playlists]):
        recorded = recorded_weeks(SAMPLE_DATA_DIR, playlist_id)
        for week in recorded[: len(recorded) - index][-weeks:]:
            document = read_replay_file(SAMPLE_DATA_DIR, playlist_id, week).playlist
            tables = normalize_playlist(document, week=week)
            partitions.append(
                (playlist_id, week, {t: plain_rows(tables[t]) for t in SERVING_ORDER})
            )
    return partitions


def _song(song_id: str, name: str, added: int | None, album: str = "al1", popularity=None):
    return {
        "song_id": song_id,
        "song_name": name,
        "duration_ms": 1000,
        "url": None,
        "popularity": popularity,
        "song_added": added,
        "album_id": album,
        "artist_id": "ar1",
        "isrc": None,
        "explicit": False,
        "disc_number": 1,
        "track_number": 1,
    }


def _entry(position: int, song_id: str, added: int, snapshot: str) -> dict:
    return {
        "position": position,
        "item_type": "track",
        "song_id": song_id,
        "playable_song_id": None,
        "uri": f"spotify:track:{song_id}",
        "name": song_id,
        "duration_ms": 1000,
        "added_at": added,
        "added_by": None,
        "snapshot_id": snapshot,
    }


def _playlist(playlist_id: str, week: str, total: int) -> dict:
    """A playlist's row in the lake's ``playlists``: renamed every week, as a playlist can be."""
    return {
        "name": f"Playlist {playlist_id[-1]} of {week}",
        "description": None if total % 2 else "",
        "owner_id": "owner",
        "owner_name": None,
        "public": bool(total % 2) or None,
        "collaborative": False,
        "snapshot_id": f"{playlist_id}{week}",
        "total": total,
        "followers": None,
        "url": f"https://open.spotify.com/playlist/{playlist_id}",
    }


def generated_partition(playlist_id: str, week: str, songs: list[dict]) -> tuple:
    albums = sorted({song["album_id"] for song in songs})
    return (
        playlist_id,
        week,
        {
            constants.ARTISTS: [
                {"artist_id": "ar1", "artist_name": "A", "external_url": None, "uri": None}
            ]
            if songs
            else [],
            constants.ALBUMS: [
                {
                    "album_id": album,
                    "name": f"{album} ({playlist_id})",  # the playlists disagree
                    "release_date": None,
                    "release_date_precision": None,
                    "release_year": None,
                    "album_type": None,
                    "total_tracks": None,
                    "artist_id": "ar1",
                    "url": None,
                }
                for album in albums
            ],
            constants.SONGS: songs,
            constants.PLAYLISTS: [_playlist(playlist_id, week, len(songs))],
            constants.PLAYLIST_ENTRIES: [
                _entry(position, song["song_id"], song["song_added"] or 0, f"{playlist_id}{week}")
                for position, song in enumerate(songs)
            ],
        },
    )


def generated_partitions(seed: int) -> list:
    """Three playlists sharing songs, each disagreeing about popularity and album names, with
    histories ending in different weeks."""
    rng = random.Random(seed)
    weeks = ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    partitions = []
    for index, playlist_id in enumerate(["gen0000000000000000000A", "gen0000000000000000000B"]):
        for week in weeks[: len(weeks) - index]:
            songs = [
                _song(
                    f"song{n}",
                    f"Song {n}",
                    added=(n + 1) * DAY_MS + rng.choice([0, DAY_MS]),
                    album=f"album{n % 3}",
                    popularity=rng.choice([None, 10 * index]),
                )
                for n in sorted(rng.sample(range(10), rng.randint(2, 6)))
            ]
            partitions.append(generated_partition(playlist_id, week, songs))
    return partitions


def apply(store: ServingStore, partitions) -> None:
    writer = ServingWriter(store)
    for playlist_id, week, tables in partitions:
        for table in SERVING_ORDER:
            writer.write(table, playlist_id, week, tables[table])


def assert_equals_the_chronological_build(store: ServingStore, partitions) -> None:
    expected, served = chronological_build(partitions), store_state(store)
    for table, rows in expected.entities.items():
        assert served.entities[table] == rows, table
    assert served.entries == expected.entries
    assert served.playlists == expected.playlists
    assert served.playlists.keys() == {playlist_id for playlist_id, _, _ in partitions}
    assert_references_resolve(store)


def assert_references_resolve(store: ServingStore) -> None:
    served = store_state(store)
    songs, albums = served.entities[constants.SONGS], served.entities[constants.ALBUMS]
    artists = served.entities[constants.ARTISTS]
    for _, entries, _ in served.entries.values():
        assert {e["song_id"] for e in entries if e["song_id"]} <= songs.keys()
    assert {s["album_id"] for s in songs.values() if s["album_id"]} <= albums.keys()
    artist_ids = {s["artist_id"] for s in songs.values()} | {
        a["artist_id"] for a in albums.values()
    }
    assert artist_ids - {None} <= artists.keys()


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request, tmp_path):
    """A function that makes a new, empty store of the parameter's backend."""
    if request.param == "sqlite":
        stores = iter(range(1000))
        return lambda: SQLiteServingStore(tmp_path / f"serving{next(stores)}.sqlite")
    aws = request.getfixturevalue("aws_storage")
    from spotify_assets import deployment
    from spotify_assets.aws.storage import create_tables
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore

    client = deployment.dynamodb_resource().get_client()
    prefixes = iter(range(1000))

    def new_store():
        prefix = f"{aws.table_prefix}{next(prefixes)}_"
        create_tables(client, prefix)
        return DynamoDBServingStore(client, prefix, backoff_base=0.001, lease_seconds=5)

    return new_store


def test_any_order_with_repeats_equals_the_chronological_build(make_store):
    partitions = sample_partitions() + generated_partitions(seed=1)
    rng = random.Random(7)
    for _ in range(3):
        store = make_store()
        order = partitions + rng.sample(partitions, 4)
        rng.shuffle(order)
        apply(store, order)
        assert_equals_the_chronological_build(store, partitions)


def test_newest_week_first_then_older_weeks_of_another_playlist(make_store):
    """The issue's case: a playlist first served at a week older than another's newest gets
    its songs served."""
    partitions = sample_partitions(playlists=2, weeks=2)
    store = make_store()
    apply(store, sorted(partitions, key=lambda p: p[1], reverse=True))
    assert_equals_the_chronological_build(store, partitions)


def test_concurrent_partitions_equal_the_chronological_build(make_store):
    partitions = generated_partitions(seed=2) + sample_partitions(playlists=2, weeks=1)
    store = make_store()
    rng = random.Random(3)
    order = partitions + partitions
    rng.shuffle(order)

    def run(partition):
        for _ in range(20):
            try:
                return apply(store, [partition])
            except ConcurrentWriteError:  # a lost race: Dagster's retry would run it again
                continue
        raise AssertionError("a partition kept losing")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(run, order))
    assert_equals_the_chronological_build(store, partitions)


def test_a_corrected_week_corrects_song_added_and_drops_its_junk(make_store):
    partitions = generated_partitions(seed=4)
    playlist_id, week, tables = partitions[1]
    bad_songs = [
        {**song, "song_added": EPOCH_1970, "song_name": "Garbled"} for song in tables["songs"]
    ] + [_song("junk", "Junk", added=5, album="junkalbum")]
    bad = generated_partition(playlist_id, week, bad_songs)
    store = make_store()
    apply(store, [bad, *partitions])  # the bad week, then everything with the corrected week
    assert_equals_the_chronological_build(store, partitions)
    served = store_state(store)
    assert "junk" not in served.entities[constants.SONGS]
    assert "junkalbum" not in served.entities[constants.ALBUMS]
    assert EPOCH_1970 not in {s["song_added"] for s in served.entities[constants.SONGS].values()}


def test_a_rebuilt_store_serves_what_it_is_given_whatever_dagster_remembers(make_store):
    """Decisions come from the store: a new, empty store given only an older week serves it."""
    partitions = sample_partitions(playlists=1, weeks=2)
    first = make_store()
    apply(first, [partitions[-1]])
    rebuilt = make_store()
    apply(rebuilt, [partitions[0]])
    assert_equals_the_chronological_build(rebuilt, [partitions[0]])
    apply(rebuilt, [partitions[-1]])
    assert_equals_the_chronological_build(rebuilt, partitions)


def test_an_unchanged_rerun_writes_nothing(make_store):
    partitions = sample_partitions(playlists=1, weeks=2)
    store = make_store()
    apply(store, partitions)
    writer = ServingWriter(store)
    for playlist_id, week, tables in partitions:
        for table in SERVING_ORDER:
            summary = writer.write(table, playlist_id, week, tables[table])
            assert (summary.written, summary.deleted) == (0, 0), (table, week)


# --- a reader during a kill -------------------------------------------------------------------


class Killed(BaseException):
    """The process dying half way (not an Exception: nothing catches it)."""


def test_a_reader_sees_the_old_snapshot_or_the_new_one_through_a_kill(make_store, monkeypatch):
    partitions = sample_partitions(playlists=1, weeks=2)
    store = make_store()
    apply(store, [partitions[0]])
    before = store_state(store)
    playlist_id, week, tables = partitions[1]
    writes = {"count": 0}
    original = type(store).publish_entries

    def publish_then_die(self, record, plan, previous_version):
        writes["count"] += 1
        if writes["count"] == 1:
            raise Killed
        return original(self, record, plan, previous_version)

    monkeypatch.setattr(type(store), "publish_entries", publish_then_die)
    with pytest.raises(Killed):
        apply(store, [partitions[1]])
    during = store_state(store)
    assert during.entries == before.entries  # the old snapshot, with everything it refers to
    assert_references_resolve(store)
    apply(store, [partitions[1]])  # the next run completes it
    assert_equals_the_chronological_build(store, partitions)


def test_a_big_first_load_killed_between_transactions_shows_nothing_then_completes(
    aws_storage, monkeypatch
):
    from spotify_assets import deployment
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore

    store = DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), aws_storage.table_prefix, lease_seconds=0.5
    )
    songs = [_song(f"s{n:03}", f"Song {n}", added=n) for n in range(124)]
    partition = generated_partition("big0000000000000000000A", "2026-10-05", songs)
    transactions = {"count": 0}
    original = store._transact

    def die_on_the_second(actions):
        transactions["count"] += 1
        if transactions["count"] == 2:
            raise Killed
        return original(actions)

    monkeypatch.setattr(store, "_transact", die_on_the_second)
    with pytest.raises(Killed):
        apply(store, [partition])
    assert store_state(store).entries == {}  # 99 entries written, none visible
    monkeypatch.setattr(store, "_transact", original)
    apply(store, [partition])
    assert_equals_the_chronological_build(store, [partition])


# --- what entry changes cost ------------------------------------------------------------------


def _weeks_of_edits(count: int = 1000) -> list[list[str]]:
    songs = [f"t{n:04}" for n in range(count)]
    weeks = [list(songs)]
    weeks.append(["new0", *weeks[-1]])  # one inserted at the top
    weeks.append([weeks[-1][-1], *weeks[-1][:-1]])  # the last moved to the top
    swapped = list(weeks[-1])
    swapped[10], swapped[500] = swapped[500], swapped[10]
    weeks.append(swapped)  # two swapped
    churned = list(weeks[-1])
    for index in range(0, len(churned), 10):  # 10% replaced in place
        churned[index] = f"churn{index}"
    weeks.append(churned)
    return weeks


# Entries that changed each week (the first: all); the 10% churn replaces 101 of 1,001.
EXPECTED_CHANGES = [1000, 1, 1, 2, 101]


def _entries_partition(playlist_id: str, week: str, song_ids: list[str]) -> list[dict]:
    return [_entry(position, song, 1000, week) for position, song in enumerate(song_ids)]


def test_entry_writes_equal_the_entries_that_changed(tmp_path):
    store = SQLiteServingStore(tmp_path / "serving.sqlite")
    writer = ServingWriter(store)
    weeks = [f"2026-0{month}-07" for month in range(1, 6)]
    for week, song_ids, changed in zip(weeks, _weeks_of_edits(), EXPECTED_CHANGES, strict=True):
        rows = _entries_partition("cost000000000000000000A", week, song_ids)
        summary = writer.write(constants.PLAYLIST_ENTRIES, "cost000000000000000000A", week, rows)
        assert summary.written + summary.deleted == changed, week
        served = store.read_table(constants.PLAYLIST_ENTRIES, "cost000000000000000000A")
        assert served.column("song_id").to_pylist() == song_ids
        assert served.column("position").to_pylist() == list(range(len(song_ids)))


def test_dynamodb_items_written_per_week_are_the_changed_entries_and_the_version(
    aws_storage, api_calls
):
    from spotify_assets import deployment
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore

    store = DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), aws_storage.table_prefix
    )
    writer = ServingWriter(store)
    playlist_id = "cost000000000000000000A"
    weeks = [f"2026-0{month}-07" for month in range(1, 6)]
    edits = _weeks_of_edits()
    writer.write(
        constants.PLAYLIST_ENTRIES,
        playlist_id,
        weeks[0],
        _entries_partition(playlist_id, weeks[0], edits[0]),
    )
    for week, song_ids, changed in zip(weeks[1:], edits[1:], EXPECTED_CHANGES[1:], strict=True):
        api_calls.clear()
        writer.write(
            constants.PLAYLIST_ENTRIES,
            playlist_id,
            week,
            _entries_partition(playlist_id, week, song_ids),
        )
        entry_items = sum(
            1
            for _, name, params in api_calls.calls
            if name == "TransactWriteItems"
            for action in params["TransactItems"]
            if "ConditionCheck" not in action
        )
        served = store.read_table(constants.PLAYLIST_ENTRIES, playlist_id)
        assert served.column("song_id").to_pylist() == song_ids
        if changed <= 97:  # one transaction: the changed entries and the version item
            assert entry_items == changed + 1, week
        else:  # staged: each changed entry is a new item and a mark on the old one
            assert entry_items <= 2 * changed + 1, week


def test_random_edits_keep_keys_short_and_the_order_right(tmp_path):
    rng = random.Random(11)
    store = SQLiteServingStore(tmp_path / "serving.sqlite")
    writer = ServingWriter(store)
    playlist_id = "edit000000000000000000A"
    songs = [f"t{n}" for n in range(30)]
    fresh = iter(range(10**6))
    for week_number in range(200):
        for _ in range(rng.randint(1, 4)):
            action = rng.choice(["insert", "delete", "move"])
            if action == "insert" or not songs:
                songs.insert(rng.randint(0, len(songs)), f"n{next(fresh)}")
            elif action == "delete":
                songs.pop(rng.randrange(len(songs)))
            else:
                songs.insert(rng.randint(0, len(songs) - 1), songs.pop(rng.randrange(len(songs))))
        week = f"{2020 + week_number // 52}-W{week_number % 52:02}"
        writer.write(
            constants.PLAYLIST_ENTRIES,
            playlist_id,
            week,
            _entries_partition(playlist_id, week, songs),
        )
        served = store.read_table(constants.PLAYLIST_ENTRIES, playlist_id)
        assert served.column("song_id").to_pylist() == songs
    with sqlite3.connect(store.path) as connection:
        [(longest,)] = connection.execute("SELECT MAX(LENGTH(order_key)) FROM playlist_entries")
    assert longest <= 12


def test_the_read_only_reader_keeps_answering_while_a_writer_holds_the_lock(tmp_path):
    from spotify_assets.web.serving_reader import SQLiteServingReader

    store = SQLiteServingStore(tmp_path / "serving.sqlite")
    partitions = sample_partitions(playlists=1, weeks=1)
    apply(store, partitions)
    reader = SQLiteServingReader(tmp_path / "serving.sqlite")
    playlist_id = partitions[0][0]
    holding, release = threading.Event(), threading.Event()

    def hold():
        with store.exclusive(constants.SONGS):
            holding.set()
            release.wait(5)

    writer = threading.Thread(target=hold)
    writer.start()
    holding.wait(5)
    try:
        assert reader.playlist_version(playlist_id) is not None
    finally:
        release.set()
        writer.join()


# --- serving verify and rebuild ---------------------------------------------------------------


def _newest_week_first(partitions) -> list:
    return sorted(partitions, key=lambda p: (p[1], p[0]), reverse=True)


def test_verify_and_rebuild_after_a_newest_week_first_backfill_on_sqlite(
    tmp_path_factory, tmp_path, monkeypatch, capsys
):
    data_dir = tmp_path / "data"
    shutil.copytree(sample_lake(tmp_path_factory) / constants.NORMALIZED, data_dir / "normalized")
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(data_dir))
    object_store = local_resources(data_dir)["object_store"].create_io_manager(None)
    partitions = list(lake_partitions(object_store))
    assert len(partitions) == 50
    store = SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)
    apply(store, _newest_week_first(partitions))
    assert main(["serving", "verify"]) == 0
    assert "equals a chronological build of the lake's 50 partitions" in capsys.readouterr().out

    song = store.read_table(constants.SONGS).column("song_id")[0].as_py()
    artist = store.read_table(constants.ARTISTS).column("artist_id")[0].as_py()
    playlist = store.read_table(constants.PLAYLISTS).column("playlist_id")[0].as_py()
    with sqlite3.connect(store.path) as connection:
        connection.execute("DELETE FROM songs WHERE song_id = ?", [song])
        connection.execute("UPDATE artists SET artist_name = 'Wrong' WHERE artist_id = ?", [artist])
        connection.execute("UPDATE playlists SET total = 99 WHERE playlist_id = ?", [playlist])
    assert main(["serving", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"songs {song}: in the lake, not served" in out
    assert "artist_name 'Wrong'" in out
    assert f"playlists playlist_id={playlist}: total 99" in out

    assert main(["serving", "rebuild"]) == 0
    assert "rebuilt the serving store from the lake's 50 partitions" in capsys.readouterr().out
    assert main(["serving", "verify"]) == 0


def test_verify_after_a_newest_week_first_backfill_on_dynamodb(
    tmp_path_factory, aws_storage, capsys
):
    from spotify_assets import deployment
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore

    s3 = deployment.s3_resource().get_client()
    lake = sample_lake(tmp_path_factory)
    for path in sorted((lake / constants.NORMALIZED).rglob("*.parquet")):
        key = f"{aws_storage.s3_prefix}/{path.relative_to(lake).as_posix()}"
        s3.put_object(Bucket=aws_storage.bucket, Key=key, Body=path.read_bytes())
    resources = deployment.resources()
    partitions = list(lake_partitions(resources["object_store"].create_io_manager(None)))
    assert len(partitions) == 50
    store = DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), aws_storage.table_prefix
    )
    apply(store, _newest_week_first(partitions))
    assert main(["serving", "verify"]) == 0
    assert "equals a chronological build of the lake's 50 partitions" in capsys.readouterr().out


def test_an_emptied_playlist_and_a_1970_song_added_are_served_as_the_build_serves_them(
    make_store,
):
    songs = [_song("s1", "One", added=EPOCH_1970), _song("s2", "Two", added=5)]
    partitions = [
        generated_partition("empt000000000000000000A", "2026-10-05", songs),
        generated_partition("empt000000000000000000A", "2026-10-12", []),
        generated_partition("empt000000000000000000B", "2026-10-05", [_song("s1", "One", 7)]),
    ]
    store = make_store()
    apply(store, partitions[::-1])
    assert_equals_the_chronological_build(store, partitions)
    served = store_state(store)
    assert served.entities[constants.SONGS]["s1"]["song_added"] == EPOCH_1970
    assert served.entries["empt000000000000000000A"][1] == []
    # The emptied week is a row with total 0; B never took that week, so it keeps its last one.
    emptied, untaken = (served.playlists[f"empt000000000000000000{p}"] for p in "AB")
    assert (emptied["total"], emptied["snapshot_id"]) == (0, "empt000000000000000000A2026-10-12")
    assert (untaken["total"], untaken["snapshot_id"]) == (1, "empt000000000000000000B2026-10-05")


def test_a_playlists_row_is_its_newest_weeks_and_an_older_week_writes_no_row(make_store):
    playlist_id = "name000000000000000000A"
    old, new = (
        generated_partition(playlist_id, week, [_song("s1", "One", added=5)])
        for week in ("2026-10-05", "2026-10-12")
    )
    store = make_store()
    writer = ServingWriter(store)
    apply(store, [new])
    summary = writer.write(constants.PLAYLISTS, playlist_id, old[1], old[2][constants.PLAYLISTS])
    assert (summary.written, "not the newest" in summary.note) == (0, True)
    [row] = store.read_table(constants.PLAYLISTS, playlist_id).to_pylist()
    assert row == {"playlist_id": playlist_id, **new[2][constants.PLAYLISTS][0]}
    renamed = [{**new[2][constants.PLAYLISTS][0], "name": "Renamed"}]
    assert writer.write(constants.PLAYLISTS, playlist_id, new[1], renamed).written == 1
    assert store.read_table(constants.PLAYLISTS, playlist_id)["name"].to_pylist() == ["Renamed"]
    with pytest.raises(ServingStoreError, match="one row per snapshot, not 2"):
        writer.write(constants.PLAYLISTS, playlist_id, new[1], renamed * 2)


def test_a_store_from_before_the_playlists_table_gets_it(tmp_path):
    path = tmp_path / "serving.sqlite"
    partitions = generated_partitions(seed=5)
    apply(SQLiteServingStore(path), partitions)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE playlists")
        connection.execute("PRAGMA user_version = 2")
    store = SQLiteServingStore(path)
    assert store.read_table(constants.PLAYLISTS).num_rows == 0
    rebuild(store, partitions)
    assert_equals_the_chronological_build(store, partitions)


def test_a_store_from_before_open_flags_reads_its_keys_as_open(tmp_path):
    path = tmp_path / "serving.sqlite"
    partitions = generated_partitions(seed=7)
    half = len(partitions) // 2
    apply(SQLiteServingStore(path), partitions[:half])
    with sqlite3.connect(path) as connection:  # layout 3: no open column
        connection.executescript(
            "CREATE TABLE keys_before (playlist_id, entity_table, entity_key, "
            "PRIMARY KEY (playlist_id, entity_table, entity_key));"
            "INSERT INTO keys_before SELECT playlist_id, entity_table, entity_key "
            "FROM playlist_keys;"
            "DROP TABLE playlist_keys;"
            "ALTER TABLE keys_before RENAME TO playlist_keys;"
            "PRAGMA user_version = 3;"
        )
    store = SQLiteServingStore(path)
    apply(store, partitions[half:])
    assert_equals_the_chronological_build(store, partitions)


def test_a_new_week_reads_what_it_holds_and_what_it_ends_not_the_history(tmp_path):
    """Serving the newest week reads the keys it holds and those whose run it ends: a year of
    history costs the 52nd week no more reads than the second."""
    store = SQLiteServingStore(tmp_path / "serving.sqlite")
    requested: list[int] = []
    read_items = store.entity_items

    def counted(table, keys):
        keys = list(keys)
        if table == constants.SONGS:
            requested.append(len(keys))
        return read_items(table, keys)

    store.entity_items = counted
    writer = ServingWriter(store)
    playlist = synthetic_playlist(100, seed=3)
    for number in range(52):
        week = (dt.date(2025, 1, 6) + dt.timedelta(weeks=number)).isoformat()
        playlist = churn(playlist, 0.1, seed=number) if number else playlist
        tables = normalize_playlist(playlist, week=week)
        for table in SERVING_ORDER:
            writer.write(table, playlist["id"], week, plain_rows(tables[table]))
    songs_held = len(set(tables[constants.SONGS]["song_id"].to_pylist()))
    # The week's songs, and the tenth of the last week's that it replaced.
    assert requested[-1] <= songs_held * 1.2 and requested[-1] <= requested[1] * 1.2
