"""The whole graph, materialized for real into a temporary data dir, from the sample recordings."""

import json

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from spotify_assets import constants
from spotify_assets.assets import all_assets
from spotify_assets.cli_serving import differences, lake_partitions
from spotify_assets.io_managers.object_store import CSV, decode
from spotify_assets.io_managers.serving import PLAYLIST_ID, store_state
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import flatten_playlist, normalize_playlist, schema
from spotify_assets.transforms.serving_state import chronological_build
from spotify_assets_tests.conftest import local_resources, materialize, partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
FIRST_WEEK, SECOND_WEEK = SAMPLE_WEEKS[0], SAMPLE_WEEKS[1]
# The week x playlist graph; the analytics assets are partitioned by week alone.
SNAPSHOT_LAYERS = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)


def _materialize(data_dir, instance, week, playlist=PLAYLIST) -> dg.ExecuteInProcessResult:
    result = materialize(
        all_assets,
        selection=SNAPSHOT_LAYERS,
        partition_key=partition(playlist, week),
        resources=local_resources(data_dir),
        instance=instance,
    )
    assert result.success
    return result


def _recording(week: str, playlist=PLAYLIST) -> dict:
    return json.loads((SAMPLE_DATA_DIR / playlist / f"{week}.json").read_bytes())


def _lake_files(data_dir) -> dict[str, bytes]:
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and not path.name.startswith("serving.sqlite")
    }


def _serving_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.path[-1]: {k: v.value for k, v in event.metadata.items()}
        for event in result.get_asset_materialization_events()
        for event in [event.materialization]
        if event.asset_key.path[0] == constants.SERVING
    }


def test_two_weeks_of_a_playlist_through_the_whole_graph(data_dir, instance, serving_store):
    for week in (FIRST_WEEK, SECOND_WEEK):
        _materialize(data_dir, instance, week)

    files = _lake_files(data_dir)
    expected_paths = []
    for week in (FIRST_WEEK, SECOND_WEEK):
        folder = f"week={week}/playlist={PLAYLIST}"
        expected_paths += [f"raw/playlist_json/{folder}/playlist.json"]
        expected_paths += [f"raw/playlist_csv/{folder}/playlist.csv"]
        expected_paths += [
            f"normalized/{t}/{folder}/{t}.parquet" for t in constants.NORMALIZED_TABLES
        ]
    expected_paths += [f"latest/playlist_json/playlist={PLAYLIST}.json"]  # beside the lake
    assert sorted(files) == sorted(expected_paths)
    pointer = json.loads((data_dir / expected_paths[-1]).read_bytes())
    assert (pointer["week"], pointer["snapshot_id"]) == (
        SECOND_WEEK,
        _recording(SECOND_WEEK)["snapshot_id"],
    )
    assert (data_dir / constants.SQLITE_FILE_NAME).is_file()

    for week in (FIRST_WEEK, SECOND_WEEK):
        recording = _recording(week)
        folder = f"week={week}/playlist={PLAYLIST}"
        assert json.loads(files[f"raw/playlist_json/{folder}/playlist.json"]) == recording
        csv_table = decode(
            files[f"raw/playlist_csv/{folder}/playlist.csv"], CSV, schema.PLAYLIST_CSV
        )
        assert csv_table.equals(flatten_playlist(recording, week=week))
        for table, expected in normalize_playlist(recording, week=week).items():
            assert pq.read_table(data_dir / f"normalized/{table}/{folder}/{table}.parquet").equals(
                expected
            )

    # Serving: the second week's entries; every song seen, with the newest attributes.
    first = normalize_playlist(_recording(FIRST_WEEK), week=FIRST_WEEK)
    second = normalize_playlist(_recording(SECOND_WEEK), week=SECOND_WEEK)
    entries = serving_store.read_table(constants.PLAYLIST_ENTRIES, playlist_id=PLAYLIST)
    assert entries.drop_columns([PLAYLIST_ID]).equals(second[constants.PLAYLIST_ENTRIES])
    assert set(entries.column(PLAYLIST_ID).to_pylist()) == {PLAYLIST}
    served_songs = {row["song_id"]: row for row in serving_store.read_table("songs").to_pylist()}
    song_ids = set(first["songs"].column("song_id").to_pylist())
    assert set(served_songs) == song_ids | set(second["songs"].column("song_id").to_pylist())
    for song in second["songs"].to_pylist():
        assert served_songs[song["song_id"]]["song_name"] == song["song_name"]
    for table in (constants.ARTISTS, constants.ALBUMS):
        key = schema.PRIMARY_KEYS[table][0]
        served = set(serving_store.read_table(table).column(key).to_pylist())
        assert served == set(first[table].column(key).to_pylist()) | set(
            second[table].column(key).to_pylist()
        )


def test_rerunning_a_partition_is_idempotent(data_dir, instance, serving_store):
    _materialize(data_dir, instance, FIRST_WEEK)
    files = _lake_files(data_dir)
    served = {t: serving_store.read_table(t) for t in constants.SERVING_TABLES}

    rerun = _materialize(data_dir, instance, FIRST_WEEK)

    assert _lake_files(data_dir) == files
    for table, metadata in _serving_metadata(rerun).items():
        assert metadata["rows_written"] == 0, table
        assert metadata["rows_unchanged"] == metadata["rows_in"] > 0, table
        assert serving_store.read_table(table).equals(served[table])


def test_an_unchanged_week_writes_nothing_to_the_serving_store(data_dir, instance):
    # The main sample playlist did not change between these two weeks (same snapshot_id).
    before, unchanged = "2026-10-05", "2026-10-12"
    assert _recording(before)["snapshot_id"] == _recording(unchanged)["snapshot_id"]
    _materialize(data_dir, instance, before)
    result = _materialize(data_dir, instance, unchanged)
    assert {t: m["rows_written"] for t, m in _serving_metadata(result).items()} == {
        t: 0 for t in constants.SERVING_TABLES
    }


def _differences_from_a_chronological_build(data_dir, serving_store) -> list[str]:
    object_store = local_resources(data_dir)["object_store"].create_io_manager(None)
    expected = chronological_build(lake_partitions(object_store))
    return differences(expected, store_state(serving_store))


def test_backfilling_an_older_week_keeps_the_newer_snapshot_served(
    data_dir, instance, serving_store
):
    _materialize(data_dir, instance, SECOND_WEEK)
    entries = serving_store.read_table(constants.PLAYLIST_ENTRIES)

    backfill = _materialize(data_dir, instance, FIRST_WEEK)

    assert serving_store.read_table(constants.PLAYLIST_ENTRIES).equals(entries)
    assert "not the newest" in _serving_metadata(backfill)[constants.PLAYLIST_ENTRIES]["note"]
    # Entities the older week alone held are served, as a chronological build serves them.
    assert _differences_from_a_chronological_build(data_dir, serving_store) == []
    folder = f"week={FIRST_WEEK}/playlist={PLAYLIST}"
    assert (data_dir / f"normalized/songs/{folder}/songs.parquet").is_file()


def test_a_failing_check_keeps_the_partition_out_of_the_serving_store(
    data_dir, instance, replay_dir, serving_store
):
    recording = _recording(FIRST_WEEK)
    recording["items"]["total"] += 1
    (replay_dir / PLAYLIST / f"{FIRST_WEEK}.json").write_text(json.dumps(recording))
    result = materialize(
        all_assets,
        selection=SNAPSHOT_LAYERS,
        partition_key=partition(PLAYLIST, FIRST_WEEK),
        resources=local_resources(data_dir, replay_dir),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not any(key.startswith(constants.SERVING) for key in materialized)
    assert serving_store.read_table(constants.PLAYLIST_ENTRIES).num_rows == 0


def test_bad_input_fails_the_partition_and_keeps_what_was_stored(data_dir, instance, replay_dir):
    materialize(
        all_assets,
        selection=SNAPSHOT_LAYERS,
        partition_key=partition(PLAYLIST, FIRST_WEEK),
        resources=local_resources(data_dir, replay_dir),
        instance=instance,
    )
    files = _lake_files(data_dir)
    (replay_dir / PLAYLIST / f"{FIRST_WEEK}.json").write_bytes(b'{"id": "truncated", ')

    result = materialize(
        all_assets,
        selection=SNAPSHOT_LAYERS,
        partition_key=partition(PLAYLIST, FIRST_WEEK),
        resources=local_resources(data_dir, replay_dir),
        instance=instance,
        raise_on_error=False,
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.error.message
    assert f"playlist {PLAYLIST!r}, week {FIRST_WEEK}" in message
    assert "is not valid JSON" in message
    assert _lake_files(data_dir) == files


def test_an_empty_playlist_week_still_writes_every_table_with_its_columns(data_dir, instance):
    empty_playlist, empty_week = SAMPLE_PLAYLIST_IDS[4], "2026-09-28"
    assert _recording(empty_week, empty_playlist)["items"]["total"] == 0
    _materialize(data_dir, instance, empty_week, playlist=empty_playlist)
    folder = f"week={empty_week}/playlist={empty_playlist}"
    for table in constants.NORMALIZED_TABLES:
        stored = pq.read_table(data_dir / f"normalized/{table}/{folder}/{table}.parquet")
        # The playlist itself is a row: an emptied playlist, not a week never taken.
        assert stored.num_rows == (1 if table == constants.PLAYLISTS else 0), table
        assert stored.schema == schema.TABLE_SCHEMAS[table]
    playlists = pq.read_table(data_dir / f"normalized/playlists/{folder}/playlists.parquet")
    assert playlists["total"].to_pylist() == [0]
    assert pa.Table.equals(
        decode(
            (data_dir / f"raw/playlist_csv/{folder}/playlist.csv").read_bytes(),
            CSV,
            schema.PLAYLIST_CSV,
        ),
        schema.PLAYLIST_CSV.empty_table(),
    )


def test_an_older_week_of_another_playlist_gets_its_entities_served(
    data_dir, instance, serving_store
):
    """The order that used to leave a playlist's entries pointing at songs never served."""
    other = SAMPLE_PLAYLIST_IDS[1]
    _materialize(data_dir, instance, SECOND_WEEK)
    _materialize(data_dir, instance, FIRST_WEEK, playlist=other)

    served = serving_store.read_table(constants.PLAYLIST_ENTRIES, playlist_id=other)
    songs = set(serving_store.read_table(constants.SONGS).column("song_id").to_pylist())
    assert served.num_rows > 0
    assert set(served.column("song_id").drop_null().to_pylist()) <= songs
    assert _differences_from_a_chronological_build(data_dir, serving_store) == []
