"""Rebuilding history in a few runs: a run over several partitions (as a backfill groups them by
the assets' backfill policy) writes each partition where, and as, a run of it alone would, serves
the same state, reports per partition, and names the partition that fails a check."""

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import (
    build_run_requests_with_backfill_policies,
)
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from upath import UPath

from spotify_assets import constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.assets.analytics import WEEKLY_SUMMARY
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.assets.raw import PLAYLIST_CSV, PLAYLIST_JSON
from spotify_assets.cli_serving import differences, lake_partitions
from spotify_assets.grouped_runs import MAX_PARTITIONS_PER_RUN
from spotify_assets.io_managers.dynamodb import DynamoDBServingStore
from spotify_assets.io_managers.object_store import JSON, ObjectStoreIOManager, encode
from spotify_assets.io_managers.s3 import S3ObjectStoreIOManager
from spotify_assets.io_managers.serving import SQLiteServingStore, store_state
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms.serving_state import chronological_build
from spotify_assets_tests.conftest import local_resources, partition

PLAYLISTS = SAMPLE_PLAYLIST_IDS[:2]
WEEKS = SAMPLE_WEEKS[:3]
TABLES_AND_SERVING = dg.AssetSelection.groups(
    constants.NORMALIZED, constants.SERVING
) | dg.AssetSelection.assets(PLAYLIST_CSV)
# Everything a transform change rebuilds from the stored raw JSON.
REBUILD = TABLES_AND_SERVING | dg.AssetSelection.assets(WEEKLY_SUMMARY)
# The files a rebuild writes, by the folders under the object store's root.
LAKE_FOLDERS = ("normalized", "raw/playlist_csv", "analytics/weekly_summary")


def store_raw(object_store: ObjectStoreIOManager, playlists=PLAYLISTS, weeks=WEEKS) -> None:
    """The sample's recordings stored as ``raw/playlist_json`` stores them."""
    for playlist_id in playlists:
        for week in weeks:
            document = json.loads((SAMPLE_DATA_DIR / playlist_id / f"{week}.json").read_bytes())
            path = object_store.partition_file(PLAYLIST_JSON, JSON, playlist=playlist_id, week=week)
            object_store.make_directory(path.parent)
            object_store.write_bytes(path, encode(document, JSON), "application/json")


def rebuild_job(resources: dict, selection: dg.AssetSelection = REBUILD) -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=all_assets,
        jobs=[dg.define_asset_job("rebuild", selection)],
        resources=resources,
        executor=dg.in_process_executor,
    )
    return defs.resolve_job_def("rebuild")


def run_range(job, instance, first: str, last: str, **kwargs) -> dg.ExecuteInProcessResult:
    """One run over the partitions from ``first`` to ``last``, as a backfill launches it."""
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
    return job.execute_in_process(instance=instance, tags=tags, **kwargs)


def lake_files(data_dir: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for folder in LAKE_FOLDERS
        for path in sorted((data_dir / folder).rglob("*"))
        if path.is_file()
    }


def assert_serves_the_chronological_build(object_store, serving_store) -> None:
    expected = chronological_build(lake_partitions(object_store))
    assert differences(expected, store_state(serving_store)) == []


@pytest.fixture
def one_run_per_partition(tmp_path, instance) -> dict[str, bytes]:
    """The lake's files when every partition ran alone."""
    data_dir = tmp_path / "one_run_per_partition"
    store_raw(ObjectStoreIOManager(base_path=UPath(data_dir)))
    job = rebuild_job(local_resources(data_dir))
    for playlist_id in PLAYLISTS:
        for week in WEEKS:
            assert job.execute_in_process(
                partition_key=partition(playlist_id, week), instance=instance
            ).success
    return lake_files(data_dir)


def test_a_grouped_run_writes_each_partition_as_a_run_of_it_alone_would(
    tmp_path, instance, one_run_per_partition
):
    data_dir = tmp_path / "grouped"
    object_store = ObjectStoreIOManager(base_path=UPath(data_dir))
    store_raw(object_store)
    job = rebuild_job(local_resources(data_dir))
    # One playlist's weeks, and one week's playlists: the two shapes of a backfill's runs.
    first, second = PLAYLISTS
    result = run_range(job, instance, partition(first, WEEKS[0]), partition(first, WEEKS[-1]))
    assert result.success
    for week in WEEKS:
        assert run_range(job, instance, partition(first, week), partition(second, week)).success

    assert lake_files(data_dir) == one_run_per_partition  # every file, byte for byte
    expected_paths = {
        f"normalized/songs/week={week}/playlist={first}/songs.parquet" for week in WEEKS
    }
    assert expected_paths <= set(one_run_per_partition)
    assert_serves_the_chronological_build(
        object_store, SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)
    )

    # A materialization per partition, each with that partition's own figures.
    songs = [
        event
        for event in result.asset_materializations_for_node("normalized_tables")
        if event.asset_key == normalized_key(constants.SONGS)
    ]
    assert sorted(event.partition for event in songs) == [partition(first, week) for week in WEEKS]
    for event in songs:
        week = event.partition.split("|")[1]
        path = f"normalized/songs/week={week}/playlist={first}/songs.parquet"
        assert event.metadata["dagster/uri"].value.endswith(path)
        rows = event.metadata["dagster/partition_row_count"].value
        assert rows == pq.read_metadata(data_dir / path).num_rows
    summaries = result.asset_materializations_for_node("analytics__weekly_summary")
    assert {event.partition for event in summaries} == {partition(first, w) for w in WEEKS}
    assert all(event.metadata["path"].value.endswith(".json") for event in summaries)
    served = result.asset_materializations_for_node("serving__playlist_entries")
    assert len({event.partition for event in served}) == len(WEEKS)
    assert all("rows_written" in event.metadata for event in served)


def test_a_grouped_run_on_s3_and_dynamodb_writes_the_same_bytes(
    aws_storage, instance, one_run_per_partition
):
    resources = deployment.aws_resources()
    s3 = deployment.s3_resource().get_client()
    object_store = S3ObjectStoreIOManager(s3, aws_storage.bucket, aws_storage.s3_prefix)
    store_raw(object_store)
    job = rebuild_job(resources, TABLES_AND_SERVING)
    for playlist_id in PLAYLISTS:
        first, last = partition(playlist_id, WEEKS[0]), partition(playlist_id, WEEKS[-1])
        assert run_range(job, instance, first, last).success

    prefix = f"{aws_storage.s3_prefix.strip('/')}/"
    listed = s3.list_objects_v2(Bucket=aws_storage.bucket)["Contents"]
    stored = {
        item["Key"].removeprefix(prefix): s3.get_object(Bucket=aws_storage.bucket, Key=item["Key"])[
            "Body"
        ].read()
        for item in listed
        if item["Key"].removeprefix(prefix).startswith(("normalized/", "raw/playlist_csv/"))
    }
    expected = {
        path: data
        for path, data in one_run_per_partition.items()
        if not path.startswith("analytics/")  # the summaries run Athena on S3
    }
    assert stored == expected
    dynamodb = DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), aws_storage.table_prefix
    )
    assert_serves_the_chronological_build(object_store, dynamodb)


def test_a_backfill_of_everything_runs_raw_per_partition_and_the_rest_grouped(tmp_path, instance):
    defs = dg.Definitions(assets=all_assets, resources=local_resources(tmp_path))
    asset_graph = defs.resolve_asset_graph()
    keys = [partition(p, w) for p in SAMPLE_PLAYLIST_IDS for w in SAMPLE_WEEKS]
    partitioned = [
        key for key in asset_graph.get_all_asset_keys() if asset_graph.get(key).partitions_def
    ]
    # As the backfill daemon calls it: with the instance that holds the playlist partitions.
    with partition_loading_context(dynamic_partitions_store=instance):
        requests = build_run_requests_with_backfill_policies(
            asset_partitions={AssetKeyPartitionKey(a, k) for a in partitioned for k in keys},
            asset_graph=asset_graph,
            dynamic_partitions_store=instance,
        )
    raw = [r for r in requests if r.asset_selection == [PLAYLIST_JSON]]
    grouped = [r for r in requests if r not in raw]
    # The live snapshot: one run per partition, each with its partition key.
    assert sorted(r.partition_key for r in raw) == sorted(keys)
    # The rest: runs over ranges, each one playlist's consecutive weeks, at most a quarter.
    weeks_per_run = []
    for request in grouped:
        assert PLAYLIST_JSON not in request.asset_selection
        assert set(request.asset_selection) == set(partitioned) - {PLAYLIST_JSON}
        first = request.tags[ASSET_PARTITION_RANGE_START_TAG].split("|")
        last = request.tags[ASSET_PARTITION_RANGE_END_TAG].split("|")
        assert first[0] == last[0]  # one playlist
        weeks = SAMPLE_WEEKS[SAMPLE_WEEKS.index(first[1]) : SAMPLE_WEEKS.index(last[1]) + 1]
        weeks_per_run.append((first[0], weeks))
    assert all(len(weeks) <= MAX_PARTITIONS_PER_RUN for _, weeks in weeks_per_run)
    covered = sorted(partition(p, w) for p, weeks in weeks_per_run for w in weeks)
    assert covered == sorted(keys)  # every partition once
    assert len(grouped) == len(SAMPLE_PLAYLIST_IDS)  # 10 weeks fit in one run per playlist


def test_a_check_failing_in_a_grouped_run_names_its_partition_and_writes_nothing(
    tmp_path, instance
):
    data_dir = tmp_path / "data"
    object_store = ObjectStoreIOManager(base_path=UPath(data_dir))
    playlist_id, broken_week = PLAYLISTS[0], WEEKS[1]
    store_raw(object_store, playlists=[playlist_id])
    path = object_store.partition_file(PLAYLIST_JSON, JSON, playlist=playlist_id, week=broken_week)
    document = json.loads(path.read_bytes())
    document["items"]["total"] += 3
    path.write_bytes(encode(document, JSON))

    job = rebuild_job(local_resources(data_dir), dg.AssetSelection.groups(constants.NORMALIZED))
    first, last = partition(playlist_id, WEEKS[0]), partition(playlist_id, WEEKS[-1])
    result = run_range(job, instance, first, last, raise_on_error=False)

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message
    where = f"playlist {playlist_id!r}, week {broken_week}"
    assert f"{where}: entries_match_playlist_total failed" in message
    assert "Nothing was written" in message
    for week in (WEEKS[0], WEEKS[2]):  # the partitions that passed are not blamed
        assert f"week {week}:" not in message
    evaluations = {
        (e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()
    }
    failed = evaluations[(constants.PLAYLIST_ENTRIES, "entries_match_playlist_total")]
    assert not failed.passed
    assert failed.metadata["problems"].value.startswith(f"{where}: ")
    assert failed.metadata["partitions_failed"].value == 1
    assert failed.metadata["partitions_checked"].value == len(WEEKS)
    passed = evaluations[(constants.SONGS, "primary_key_unique_and_not_null")]
    assert passed.passed and passed.metadata["problems"].value == "none"
    assert not (data_dir / constants.NORMALIZED).exists()  # no partition of the run published
