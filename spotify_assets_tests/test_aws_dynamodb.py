"""The DynamoDB serving store on moto's server: tables, items, what it costs, and what it does
when DynamoDB pushes back (unprocessed keys, throttling, items too large, missing tables)."""

import json
import math
import threading
from decimal import Decimal

import botocore.retries.bucket
import botocore.retries.standard
import dagster as dg
import pyarrow as pa
import pytest
from botocore.awsrequest import AWSResponse

from spotify_assets import constants, deployment
from spotify_assets.aws.storage import TableMismatchError, create_tables
from spotify_assets.aws.tables import (
    ALL_TABLES,
    BILLING_MODE,
    LEASES,
    PLAYLIST_KEYS,
    PLAYLIST_VERSIONS,
)
from spotify_assets.io_managers.dynamodb import (
    DESERIALIZER,
    DynamoDBCapacityError,
    DynamoDBServingStore,
    ItemTooLargeError,
    MissingTableError,
    from_item,
    to_item,
)
from spotify_assets.io_managers.serving import ServingIOManager
from spotify_assets.transforms import schema
from spotify_assets_tests.conftest import partition


def _write(store: DynamoDBServingStore, table: str, rows: list[dict], playlist: str, week: str):
    context = dg.build_output_context(
        asset_key=dg.AssetKey([constants.SERVING, table]), partition_key=partition(playlist, week)
    )
    table_schema = schema.TABLE_SCHEMAS[table]
    ServingIOManager(store).handle_output(context, pa.Table.from_pylist(rows, schema=table_schema))
    return {key: value.value for key, value in context.get_logged_metadata().items()}


def _songs(count: int, name: str = "Song", album: str = "al1") -> list[dict]:
    return [
        {"song_id": f"s{i:04}", "song_name": f"{name} {i}", "album_id": album, "artist_id": "ar1"}
        for i in range(count)
    ]


def _entries(song_ids: list[str], snapshot_id: str = "snap") -> list[dict]:
    return [
        {"position": i, "item_type": "track", "song_id": song_id, "snapshot_id": snapshot_id}
        for i, song_id in enumerate(song_ids)
    ]


class Calls:
    """API calls of one client, counted through botocore's ``before-call`` event."""

    def __init__(self, client):
        self.operations: list[tuple[str, dict]] = []
        client.meta.events.register("before-call.dynamodb.*", self._record)

    def _record(self, model, params, **kwargs):
        self.operations.append((model.name, json.loads(params["body"] or b"{}")))

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.operations if name == operation)

    def transaction_items(self) -> list[list[str]]:
        return [
            [next(iter(action)) for action in body["TransactItems"]]
            for name, body in self.operations
            if name == "TransactWriteItems"
        ]

    def puts(self, table_name: str) -> int:
        return sum(
            1
            for name, body in self.operations
            if name == "PutItem" and body["TableName"] == table_name
        )

    def clear(self) -> None:
        self.operations.clear()


@pytest.fixture
def calls(dynamodb_store) -> Calls:
    return Calls(dynamodb_store.client)


# --- tables ------------------------------------------------------------------------------------


def test_init_creates_every_table_from_the_one_definition(aws_storage):
    client = deployment.dynamodb_resource().get_client()
    for table in ALL_TABLES.values():
        description = client.describe_table(TableName=f"test_{table.name}")["Table"]
        assert description["BillingModeSummary"]["BillingMode"] == BILLING_MODE
        request = table.create_table_request("test_")
        assert description["KeySchema"] == request["KeySchema"]
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            indexes = {i["IndexName"]: i["KeySchema"] for i in description.get(kind, [])}
            assert indexes == {i["IndexName"]: i["KeySchema"] for i in request.get(kind, [])}
    assert sorted(ALL_TABLES) == sorted(
        [*constants.SERVING_TABLES, PLAYLIST_VERSIONS, PLAYLIST_KEYS, LEASES]
    )
    assert ALL_TABLES["playlist_entries"].key_names == ("playlist_id", "entry_id")
    assert {i.name for i in ALL_TABLES["playlist_entries"].indexes} == {"by_order", "by_song"}
    assert {i.name for i in ALL_TABLES["songs"].indexes} == {"by_album", "by_artist"}
    assert {i.name for i in ALL_TABLES["albums"].indexes} == {"by_artist"}
    # Running it again changes nothing; a table with other keys is refused, not used.
    assert set(create_tables(client, "test_").values()) == {False}
    client.create_table(
        TableName="other_artists",
        BillingMode=BILLING_MODE,
        KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
    )
    with pytest.raises(TableMismatchError, match="table other_artists exists with key"):
        create_tables(client, "other_")


def test_the_read_paths_query_the_secondary_indexes(dynamodb_store):
    _write(dynamodb_store, "songs", _songs(3, album="al1") + [], "p", "2026-09-07")
    # Another playlist's: a re-run of p's week would replace what that week held.
    _write(dynamodb_store, "songs", [{"song_id": "x", "album_id": "al2"}], "q", "2026-09-07")
    _write(dynamodb_store, "albums", [{"album_id": "al1", "artist_id": "ar1"}], "p", "2026-09-07")
    client = dynamodb_store.client

    def query(table: str, index: str, attribute: str, value: str) -> list[str]:
        items = client.query(
            TableName=f"test_{table}",
            IndexName=index,
            KeyConditionExpression="#a = :v",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues={":v": {"S": value}},
        )["Items"]
        return sorted(item[ALL_TABLES[table].partition_key.name]["S"] for item in items)

    assert query("songs", "by_album", "album_id", "al1") == ["s0000", "s0001", "s0002"]
    assert query("songs", "by_artist", "artist_id", "ar1") == ["s0000", "s0001", "s0002"]
    assert query("albums", "by_artist", "artist_id", "ar1") == ["al1"]


# --- items -------------------------------------------------------------------------------------


def test_items_leave_nulls_out_and_keep_empty_strings(dynamodb_store):
    _write(
        dynamodb_store,
        "songs",
        [{"song_id": "s1", "song_name": "", "popularity": None, "explicit": False}],
        "p",
        "2026-09-07",
    )
    item = dynamodb_store.client.get_item(TableName="test_songs", Key={"song_id": {"S": "s1"}})
    assert item["Item"] == {
        "song_id": {"S": "s1"},
        "song_name": {"S": ""},
        "explicit": {"BOOL": False},
        # The writers' bookkeeping: the row's digest, the key's history, the item's revision.
        "row_hash": {"S": item["Item"]["row_hash"]["S"]},
        "history": {"S": item["Item"]["history"]["S"]},
        "revision": {"S": item["Item"]["revision"]["S"]},
    }


def test_floats_become_decimals_and_come_back_as_floats():
    row = {"ratio": 0.1, "count": 2**60, "none": None, "flag": True}
    item = to_item(row)
    assert DESERIALIZER.deserialize(item["ratio"]) == Decimal("0.1")
    assert item == {"ratio": {"N": "0.1"}, "count": {"N": str(2**60)}, "flag": {"BOOL": True}}
    table_schema = pa.schema(
        [
            ("ratio", pa.float64()),
            ("count", pa.int64()),
            ("none", pa.string()),
            ("flag", pa.bool_()),
        ]
    )
    assert from_item(item, table_schema) == [0.1, 2**60, None, True]
    with pytest.raises(ValueError, match="ratio is nan"):
        to_item({"ratio": float("nan")})


def test_an_item_over_400_kb_fails_the_partition_before_anything_is_written(dynamodb_store, calls):
    rows = _songs(5)
    rows[3]["song_name"] = "x" * 410_000
    with pytest.raises(
        ItemTooLargeError,
        match=r"^playlist 'p', week 2026-09-07, serving/songs: "
        r".*songs item \{'song_id': 's0003'\}.*song_name",
    ):
        _write(dynamodb_store, "songs", rows, "p", "2026-09-07")
    assert calls.puts("test_songs") == 0  # (the lease's item only)
    assert dynamodb_store.read_table("songs").num_rows == 0


def test_a_missing_table_says_how_to_create_it(aws):
    store = DynamoDBServingStore(deployment.dynamodb_resource().get_client(), "nothing_")
    with pytest.raises(
        MissingTableError, match="nothing_playlist_versions does not exist.*aws init"
    ):
        _write(store, "songs", _songs(1), "p", "2026-09-07")


# --- what it costs -----------------------------------------------------------------------------


def test_writes_only_new_and_changed_items_and_reads_100_keys_per_call(dynamodb_store, calls):
    songs = _songs(250)
    first = _write(dynamodb_store, "songs", songs, "p", "2026-09-07")
    assert (first["rows_written"], calls.puts("test_songs")) == (250, 250)
    assert calls.count("BatchGetItem") == math.ceil(250 / 100) == 3

    calls.clear()  # the same songs a week later: histories and rows stay as they are
    again = _write(dynamodb_store, "songs", songs, "p", "2026-09-14")
    assert (again["rows_unchanged"], calls.puts("test_songs")) == (250, 0)
    assert calls.count("BatchGetItem") == 3

    calls.clear()  # a re-run of that week: nothing written at all, not even the lease
    _write(dynamodb_store, "songs", songs, "p", "2026-09-14")
    assert {name for name, _ in calls.operations} == {"GetItem"}

    calls.clear()
    for song in songs[:7]:
        song["song_name"] += " (remaster)"
    changed = _write(dynamodb_store, "songs", songs, "p", "2026-09-21")
    assert (changed["rows_written"], calls.puts("test_songs")) == (7, 7)


def test_entries_write_changed_entries_in_one_transaction_and_nothing_when_unchanged(
    dynamodb_store, calls
):
    song_ids = [f"s{i}" for i in range(250)]
    first = _write(dynamodb_store, "playlist_entries", _entries(song_ids), "p", "2026-09-07")
    assert first["rows_written"] == 250
    # More than one transaction holds: staged under the lease, then the version switched.
    transactions = calls.transaction_items()
    assert [len(t) for t in transactions] == [100, 100, 53, 2]
    assert sum(t.count("Put") for t in transactions) == 250

    calls.clear()  # a re-run: nothing written
    _write(dynamodb_store, "playlist_entries", _entries(song_ids), "p", "2026-09-07")
    assert {name for name, _ in calls.operations} == {"GetItem"}

    calls.clear()
    song_ids[10:15] = ["n1", "n2", "n3", "n4", "n5"]
    changed = _write(
        dynamodb_store, "playlist_entries", _entries(song_ids[:-2], "snap2"), "p", "2026-09-21"
    )
    assert (changed["rows_written"], changed["rows_deleted"]) == (5, 2)
    # The five new entries take the items of the five they replace; the version item is updated.
    assert calls.transaction_items() == [
        ["ConditionCheck"] + ["Put"] * 5 + ["Delete"] * 2 + ["Update"]
    ]
    served = dynamodb_store.read_table("playlist_entries", playlist_id="p")
    assert served.column("song_id").to_pylist() == song_ids[:-2]
    assert set(served.column("snapshot_id").to_pylist()) == {"snap2"}


def test_a_run_that_dies_between_transactions_is_completed_by_its_rerun(aws_storage, calls):
    store = DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), "test_", lease_seconds=0.2
    )
    song_ids = [f"s{i}" for i in range(150)]
    count = []

    def fail_second_transaction(model, **kwargs):
        if model.name == "TransactWriteItems":
            count.append(True)
            if len(count) == 2:
                raise ConnectionError("the run was killed")

    store.client.meta.events.register("before-call.dynamodb.*", fail_second_transaction)
    with pytest.raises(ConnectionError):
        _write(store, "playlist_entries", _entries(song_ids), "p", "2026-09-07")
    store.client.meta.events.unregister("before-call.dynamodb.*", fail_second_transaction)
    assert store.read_table("playlist_entries", playlist_id="p").num_rows == 0  # none visible

    rerun = _write(store, "playlist_entries", _entries(song_ids), "p", "2026-09-07")
    assert rerun["rows_written"] == 150
    served = store.read_table("playlist_entries", playlist_id="p")
    assert served.column("song_id").to_pylist() == song_ids


# --- concurrency -------------------------------------------------------------------------------


def test_a_backfill_and_a_newer_week_sharing_songs_run_at_once(aws_storage):
    """Two partitions of different playlists, sharing 150 songs, written at the same time from
    two clients: whatever the interleaving, the newer week's attributes win every shared song."""
    newer = [dict(song, song_name="newer") for song in _songs(200)]
    older = [dict(song, song_name="older") for song in _songs(150)]
    older += [{"song_id": f"only-old-{i}", "song_name": "older"} for i in range(20)]
    stores = [
        DynamoDBServingStore(deployment.dynamodb_resource().get_client(), "test_") for _ in range(2)
    ]
    start = threading.Barrier(2)

    def run(store, rows, playlist, week):
        start.wait()
        _write(store, "songs", rows, playlist, week)

    threads = [
        threading.Thread(target=run, args=(stores[0], newer, "p", "2026-09-14")),
        threading.Thread(target=run, args=(stores[1], older, "q", "2026-09-07")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    served = {row["song_id"]: row["song_name"] for row in stores[0].read_table("songs").to_pylist()}
    assert served == {
        **{song["song_id"]: "newer" for song in newer},
        **{f"only-old-{i}": "older" for i in range(20)},
    }


# --- when DynamoDB pushes back -----------------------------------------------------------------


def test_unprocessed_keys_are_asked_for_again(dynamodb_store, calls):
    _write(dynamodb_store, "songs", _songs(150), "p", "2026-09-07")
    left_out = []

    def leave_keys_unprocessed(parsed, model, **kwargs):
        if not left_out:
            [(table, items)] = parsed["Responses"].items()
            kept, dropped = items[:30], items[30:]
            left_out.extend(dropped)
            parsed["Responses"][table] = kept
            parsed["UnprocessedKeys"] = {
                table: {"Keys": [{"song_id": item["song_id"]} for item in dropped]}
            }

    dynamodb_store.client.meta.events.register(
        "after-call.dynamodb.BatchGetItem", leave_keys_unprocessed
    )
    calls.clear()
    result = _write(dynamodb_store, "songs", _songs(150), "p", "2026-09-14")
    assert left_out and result["rows_unchanged"] == 150
    assert calls.count("BatchGetItem") == math.ceil(150 / 100) + 1
    assert calls.puts("test_songs") == 0


def test_keys_left_unprocessed_every_time_fail_the_partition_clearly(dynamodb_store):
    def nothing_processed(parsed, model, **kwargs):
        [(table, _)] = parsed["Responses"].items()
        parsed["Responses"][table] = []
        parsed["UnprocessedKeys"] = {table: {"Keys": [{"song_id": {"S": "s0000"}}]}}

    dynamodb_store.client.meta.events.register(
        "after-call.dynamodb.BatchGetItem", nothing_processed
    )
    with pytest.raises(DynamoDBCapacityError, match="1 keys of table test_songs unprocessed"):
        _write(dynamodb_store, "songs", _songs(1), "p", "2026-09-07")


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **kwargs):
        yield self.data


def _throttle(operation: str, times: float, code: str = "ThrottlingException"):
    """A ``before-send`` hook answering the first ``times`` attempts with a throttling error, as
    DynamoDB would: the SDK's retry logic sees a real HTTP 400 response."""
    attempts = []

    def answer(request, **kwargs):
        if request.headers.get("X-Amz-Target", b"").decode().endswith(operation):
            attempts.append(request)
            if len(attempts) <= times:
                body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}"})
                headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "x"}
                return AWSResponse(request.url, 400, headers, _Body(body.encode()))
        return None

    answer.attempts = attempts
    return answer


@pytest.fixture
def no_backoff(monkeypatch):
    """The SDK's waits (backoff, and the adaptive mode's client-side rate limit) cut to nothing:
    the retries are the same, only faster."""
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda *a: 0)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda *a, **k: True)


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("PutItem", "ThrottlingException"),
        ("BatchGetItem", "ProvisionedThroughputExceededException"),
        ("TransactWriteItems", "ThrottlingException"),
    ],
)
def test_throttled_requests_are_retried_by_the_sdk(dynamodb_store, no_backoff, operation, code):
    assert dynamodb_store.client.meta.config.retries["mode"] == "adaptive"
    throttle = _throttle(operation, times=2, code=code)
    dynamodb_store.client.meta.events.register("before-send.dynamodb", throttle)
    _write(dynamodb_store, "songs", _songs(3), "p", "2026-09-07")
    _write(dynamodb_store, "playlist_entries", _entries(["s0000"]), "p", "2026-09-07")
    assert len(throttle.attempts) >= 3  # two throttled, then through
    assert dynamodb_store.read_table("songs").num_rows == 3
    assert dynamodb_store.read_table("playlist_entries", playlist_id="p").num_rows == 1


def test_throttling_that_outlasts_the_retries_fails_the_partition_clearly(aws_storage, no_backoff):
    client = deployment.dynamodb_resource().model_copy(update={"max_attempts": 3}).get_client()
    store = DynamoDBServingStore(client, "test_")
    throttle = _throttle("PutItem", times=math.inf)
    client.meta.events.register("before-send.dynamodb", throttle)
    with pytest.raises(
        DynamoDBCapacityError, match=r"throttled PutItem on table test_leases .* 3 times in a row"
    ):
        _write(store, "songs", _songs(1), "p", "2026-09-07")
    assert len(throttle.attempts) == 3
