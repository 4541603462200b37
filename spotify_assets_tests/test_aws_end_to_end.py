"""The whole graph in the aws deployment, against moto's server: the layout in S3, the items in
DynamoDB (the same serving state as SQLite's), what a re-run costs, and the IAM actions used."""

import io
import json

import boto3
import dagster as dg
import pyarrow.parquet as pq
import pytest

from spotify_assets import constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.aws.iam import RUN_OPERATIONS
from spotify_assets.io_managers.object_store import CONTENT_TYPES, CSV, JSON, PARQUET
from spotify_assets.io_managers.serving import SQLiteServingStore
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import normalize_playlist
from spotify_assets_tests.aws_fixtures import ApiCalls
from spotify_assets_tests.conftest import local_resources, materialize, partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
FIRST_WEEK, SECOND_WEEK = SAMPLE_WEEKS[0], SAMPLE_WEEKS[1]
# The contract's layers, all partitioned by week x playlist.
LAYERS = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)


def _materialize(resources: dict, instance, week: str) -> dg.ExecuteInProcessResult:
    result = materialize(
        all_assets,
        selection=LAYERS,
        partition_key=partition(PLAYLIST, week),
        resources=resources,
        instance=instance,
    )
    assert result.success
    return result


def _serving_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.path[-1]: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[0] == constants.SERVING
    }


@pytest.fixture
def dynamodb_reader(aws_storage):
    return deployment.resources()["serving_store"].create_io_manager(None).store


def test_two_weeks_through_the_graph_in_aws_match_the_local_deployment(
    aws_storage, instance, dynamodb_reader, data_dir
):
    for week in (FIRST_WEEK, SECOND_WEEK):
        _materialize(deployment.resources(), instance, week)

    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=aws_storage.bucket)["Contents"]
    keys = {o["Key"] for o in listed}
    expected = {}
    for week in (FIRST_WEEK, SECOND_WEEK):
        folder = f"week={week}/playlist={PLAYLIST}"
        expected[f"lake/raw/playlist_json/{folder}/playlist.json"] = JSON
        expected[f"lake/raw/playlist_csv/{folder}/playlist.csv"] = CSV
        for table in constants.NORMALIZED_TABLES:
            expected[f"lake/normalized/{table}/{folder}/{table}.parquet"] = PARQUET
    expected[f"lake/latest/playlist_json/playlist={PLAYLIST}.json"] = JSON
    assert keys == set(expected)
    for key, storage_format in expected.items():
        head = s3.head_object(Bucket=aws_storage.bucket, Key=key)
        assert head["ContentType"] == CONTENT_TYPES[storage_format]

    recording = json.loads((SAMPLE_DATA_DIR / PLAYLIST / f"{SECOND_WEEK}.json").read_bytes())
    folder = f"week={SECOND_WEEK}/playlist={PLAYLIST}"
    raw = s3.get_object(
        Bucket=aws_storage.bucket, Key=f"lake/raw/playlist_json/{folder}/playlist.json"
    )
    assert json.loads(raw["Body"].read()) == recording
    songs_key = f"lake/normalized/songs/{folder}/songs.parquet"
    songs_file = s3.get_object(Bucket=aws_storage.bucket, Key=songs_key)["Body"].read()
    songs = pq.read_table(io.BytesIO(songs_file))
    assert songs.equals(normalize_playlist(recording, week=SECOND_WEEK)["songs"])

    # The same two weeks in the local deployment give the same serving state.
    with dg.instance_for_test() as local_instance:
        for week in (FIRST_WEEK, SECOND_WEEK):
            _materialize(local_resources(data_dir), local_instance, week)
    sqlite = SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)
    for table in constants.SERVING_TABLES:
        served = dynamodb_reader.read_table(table)
        assert served.num_rows > 0, table
        assert served.equals(sqlite.read_table(table)), table


def test_a_rerun_writes_no_item_and_reads_100_keys_per_call(
    aws_storage, instance, dynamodb_reader, api_calls: ApiCalls
):
    first = _materialize(deployment.resources(), instance, FIRST_WEEK)
    written = _serving_metadata(first)
    entity_tables = (constants.ARTISTS, constants.ALBUMS, constants.SONGS)
    entity_puts = sum(
        1
        for _, name, params in api_calls.calls
        if name == "PutItem" and params["TableName"] in {f"test_{t}" for t in entity_tables}
    )
    assert entity_puts == sum(written[t]["rows_written"] for t in entity_tables)

    api_calls.clear()
    rerun = _materialize(deployment.resources(), instance, FIRST_WEEK)
    metadata = _serving_metadata(rerun)
    assert {t: m["rows_written"] for t, m in metadata.items()} == dict.fromkeys(
        constants.SERVING_TABLES, 0
    )
    # A re-run reads each playlist's record and writes nothing, not even a lease.
    writes = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
    assert sum(api_calls.count(operation) for operation in writes) == 0
    # Every call a run makes is one the IAM policy grants.
    calls = api_calls.operations()
    assert calls, "no AWS call recorded"
    for service, operation in calls:
        assert operation in RUN_OPERATIONS[service], (service, operation)


def test_a_backfill_of_an_older_week_keeps_the_newer_snapshot_served(
    aws_storage, instance, dynamodb_reader, api_calls: ApiCalls
):
    _materialize(deployment.resources(), instance, SECOND_WEEK)
    entries = dynamodb_reader.read_table(constants.PLAYLIST_ENTRIES)
    api_calls.clear()
    backfill = _materialize(deployment.resources(), instance, FIRST_WEEK)
    entry_writes = [
        action
        for _, name, params in api_calls.calls
        if name == "TransactWriteItems"
        for action in params["TransactItems"]
        if next(iter(action.values()))["TableName"] == "test_playlist_entries"
    ]
    assert entry_writes == []  # the newer week's entries stay, untouched
    assert "not the newest" in _serving_metadata(backfill)[constants.PLAYLIST_ENTRIES]["note"]
    assert dynamodb_reader.read_table(constants.PLAYLIST_ENTRIES).equals(entries)
