"""The serving store in DynamoDB (aws deployment): the tables of :mod:`spotify_assets.aws.tables`,
written by the rules of :mod:`spotify_assets.io_managers.serving`.

What it costs: reads are one BatchGetItem per 100 keys and a Query per playlist; only items whose
row or history changed are written, each a PutItem conditioned on the revision that was read, from
a small thread pool. A playlist's changed entries (at most 98 of them) and its version item go in
one TransactWriteItems; more are staged: written with the next version's number, invisible to
readers of the current one, and published by the version item's switch. A reader reads the
version item, then the entries visible at that version (:func:`visible`).
"""

import json
import math
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal

import boto3
import dagster as dg
import pyarrow as pa
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError
from dagster_aws.utils import ResourceWithBoto3Configuration
from pydantic import Field

from spotify_assets import constants
from spotify_assets.aws.tables import (
    ALL_TABLES,
    ENTITY,
    FROM_VERSION,
    LEASE_EXPIRES,
    LEASE_NAME,
    LEASE_TOKEN,
    LEASES,
    OPEN,
    PLAYLIST_KEYS,
    PLAYLIST_VERSIONS,
    TO_VERSION,
    VERSION,
    WEEK_COLUMN,
)
from spotify_assets.io_managers.serving import (
    ENTITY_KEYS,
    ENTRY_ID,
    HASH_COLUMN,
    HISTORY_COLUMN,
    ORDER_KEY,
    PLAYLIST_ID,
    REFERENCED_BY,
    ConcurrentWriteError,
    EntityItem,
    PlaylistRecord,
    ServingIOManager,
    ServingStore,
    ServingStoreError,
    entry_columns,
    serving_schema,
    table_from_plain_rows,
)
from spotify_assets.transforms.serving_state import POSITION, SNAPSHOT_COLUMNS, StoredEntry

ITEM_SIZE_LIMIT = 400 * 1024
BATCH_GET_LIMIT = 100
TRANSACTION_ITEMS = 100
TRANSACTION_BYTES = 4_000_000  # DynamoDB's 4 MB per transaction, less room for the version item
THROTTLING_CODES = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
)
RETRYABLE_CANCELLATIONS = ("TransactionConflict", "ThrottlingError", *THROTTLING_CODES)
REVISION = "revision"  # an entity item's: changes with every write of it
SERIALIZER = TypeSerializer()
DESERIALIZER = TypeDeserializer()


class DynamoDBCapacityError(ServingStoreError, RuntimeError):
    """DynamoDB kept throttling after every retry; run the partition again later."""


class ItemTooLargeError(ServingStoreError, ValueError):
    """A row would make an item over DynamoDB's 400 KB limit."""


class MissingTableError(ServingStoreError, RuntimeError):
    """A serving table does not exist in this account, region and prefix."""


def to_item(row: Mapping) -> dict:
    """A row as a DynamoDB item: nulls left out, floats as Decimal, the rest as they are."""
    item = {}
    for name, value in row.items():
        if value is None:
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"{name} is {value}: DynamoDB numbers must be finite")
            value = Decimal(repr(value))
        item[name] = SERIALIZER.serialize(value)
    return item


def from_item(item: Mapping, table_schema: pa.Schema) -> list:
    """The schema's columns of an item, in order: plain values, None where an attribute is left
    out; numbers back to int or float as the column says."""
    values = []
    for field in table_schema:
        attribute = item.get(field.name)
        value = None if attribute is None else DESERIALIZER.deserialize(attribute)
        if isinstance(value, Decimal):
            value = float(value) if pa.types.is_floating(field.type) else int(value)
        values.append(value)
    return values


def item_size(item: Mapping) -> int:
    """An upper bound of an item's size as DynamoDB counts it: attribute names and values in
    UTF-8, a number at most 21 bytes, a boolean or null 1 byte."""
    size = 0
    for name, attribute in item.items():
        [(kind, value)] = attribute.items()
        size += len(name.encode("utf-8"))
        if kind == "S":
            size += len(value.encode("utf-8"))
        elif kind == "N":
            size += 21
        elif kind in ("BOOL", "NULL"):
            size += 1
        else:
            raise TypeError(f"unexpected DynamoDB attribute type {kind} for {name}")
    return size


def backoff_delays(attempts: int, base: float, cap: float) -> Iterator[float]:
    """Exponential backoff with full jitter: how long to wait before each retry."""
    for attempt in range(attempts):
        yield random.uniform(0, min(cap, base * 2**attempt))


def chunked(items: list, count: int) -> Iterator[list]:
    for start in range(0, len(items), count):
        yield items[start : start + count]


class DynamoDBServingStore(ServingStore):
    """The serving tables in DynamoDB; ``client`` is a boto3 DynamoDB client.

    Writers of one entity table, or of one playlist's entries, take turns through a lease item
    (``leases`` table) that expires after ``lease_seconds``, so a killed writer holds nobody up
    for longer; entity items are written conditionally on the revision that was read."""

    def __init__(
        self,
        client,
        table_prefix: str,
        write_threads: int = 8,
        retries: int = 8,
        backoff_base: float = 0.05,
        backoff_cap: float = 5.0,
        lease_seconds: float = 300.0,
    ):
        self.client = client
        self.table_prefix = table_prefix
        self.write_threads = write_threads
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.lease_seconds = lease_seconds
        self._local = threading.local()

    def table_name(self, table: str) -> str:
        return ALL_TABLES[table].table_name(self.table_prefix)

    def _item(self, table: str, row: Mapping) -> dict:
        item = to_item(row)
        size = item_size(item)
        if size > ITEM_SIZE_LIMIT:
            key = {name: row[name] for name in ALL_TABLES[table].key_names}
            largest = max(item, key=lambda name: item_size({name: item[name]}))
            raise ItemTooLargeError(
                f"the {table} item {key} would be about {size:,} bytes, over DynamoDB's limit of "
                f"{ITEM_SIZE_LIMIT:,} (largest attribute: {largest}); the lake keeps the row"
            )
        return item

    @contextmanager
    def _clear_errors(self, table: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            name = self.table_name(table)
            if code in THROTTLING_CODES:
                attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
                raise DynamoDBCapacityError(
                    f"DynamoDB throttled {error.operation_name} on table {name} ({code}) "
                    f"{attempts} times in a row; what was written is consistent: run the "
                    "partition again when capacity allows (unchanged items are skipped)"
                ) from error
            if code == "ResourceNotFoundException":
                raise MissingTableError(
                    f"DynamoDB table {name} does not exist in region "
                    f"{self.client.meta.region_name} ({self.client.meta.endpoint_url}): create "
                    "the tables with `spotify-assets aws init` or the deployment's stack"
                ) from error
            raise

    def _retry_delays(self) -> Iterator[float]:
        return backoff_delays(self.retries, self.backoff_base, self.backoff_cap)

    def _call(self, table: str, operation: str, **arguments) -> dict:
        with self._clear_errors(table):
            return getattr(self.client, operation)(**arguments)

    # --- leases --------------------------------------------------------------------------------

    def _leases(self) -> dict[str, str]:
        if not hasattr(self._local, "leases"):
            self._local.leases = {}
        return self._local.leases

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        leases = self._leases()
        if name in leases:
            yield
            return
        token = uuid.uuid4().hex
        waited = 0.0
        while True:
            now = time.time()
            try:
                self._call(
                    LEASES,
                    "put_item",
                    TableName=self.table_name(LEASES),
                    Item={
                        LEASE_NAME: {"S": name},
                        LEASE_TOKEN: {"S": token},
                        LEASE_EXPIRES: {"N": str(now + self.lease_seconds)},
                    },
                    ConditionExpression="attribute_not_exists(#n) OR #e < :now",
                    ExpressionAttributeNames={"#n": LEASE_NAME, "#e": LEASE_EXPIRES},
                    ExpressionAttributeValues={":now": {"N": str(now)}},
                )
                break
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
            if waited > self.lease_seconds:
                raise ConcurrentWriteError(
                    f"another run has been writing {name} for {waited:.0f} s (its lease has not "
                    "expired); run the partition again"
                )
            delay = random.uniform(0.05, 0.5)
            time.sleep(delay)
            waited += delay
        leases[name] = token
        try:
            yield
        finally:
            del leases[name]
            try:
                self._call(
                    LEASES,
                    "delete_item",
                    TableName=self.table_name(LEASES),
                    Key={LEASE_NAME: {"S": name}},
                    ConditionExpression="#t = :t",
                    ExpressionAttributeNames={"#t": LEASE_TOKEN},
                    ExpressionAttributeValues={":t": {"S": token}},
                )
            except ClientError as error:  # it expired and another writer took it
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise

    def _lease_check(self, name: str) -> dict:
        """A transaction's check that this writer still holds the lease ``name``."""
        return {
            "ConditionCheck": {
                "TableName": self.table_name(LEASES),
                "Key": {LEASE_NAME: {"S": name}},
                "ConditionExpression": "#t = :t",
                "ExpressionAttributeNames": {"#t": LEASE_TOKEN},
                "ExpressionAttributeValues": {":t": {"S": self._leases()[name]}},
            }
        }

    # --- playlist records ----------------------------------------------------------------------

    def playlist_record(self, playlist_id: str) -> PlaylistRecord:
        item = self._call(
            PLAYLIST_VERSIONS,
            "get_item",
            TableName=self.table_name(PLAYLIST_VERSIONS),
            Key={PLAYLIST_ID: {"S": playlist_id}},
            ConsistentRead=True,
        ).get("Item", {})
        values = {name: DESERIALIZER.deserialize(value) for name, value in item.items()}
        record = PlaylistRecord(
            playlist_id,
            week=values.get(WEEK_COLUMN),
            version=int(values.get(VERSION, 0)),
            entries_digest=values.get(HASH_COLUMN),
            snapshot={c: values[c] for c in SNAPSHOT_COLUMNS if c in values},
        )
        for table in constants.SERVING_TABLES:
            record.weeks[table] = json.loads(values.get(f"weeks_{table}", "{}"))
            record.orphans[table] = json.loads(values.get(f"orphans_{table}", "[]"))
        return record

    def save_table_record(self, record: PlaylistRecord, table: str) -> None:
        # Recorded only while this writer still holds its leases: a writer whose lease expired
        # half way must not mark its week served (its re-run would then be skipped).
        self._transact(
            [*map(self._lease_check, self._leases()), self._record_update(record, table)]
        )

    def _record_update(self, record: PlaylistRecord, table: str) -> dict:
        """The write of the record's weeks and orphans of one table."""
        update = {
            "TableName": self.table_name(PLAYLIST_VERSIONS),
            "Key": {PLAYLIST_ID: {"S": record.playlist_id}},
            "UpdateExpression": "SET #w = :w, #o = :o",
            "ExpressionAttributeNames": {"#w": f"weeks_{table}", "#o": f"orphans_{table}"},
            "ExpressionAttributeValues": {
                ":w": {"S": json.dumps(record.weeks.get(table, {}), sort_keys=True)},
                ":o": {"S": json.dumps(record.orphans.get(table, []))},
            },
        }
        return {"Update": update}

    # --- playlists -----------------------------------------------------------------------------

    def playlist_row_hash(self, playlist_id: str) -> str | None:
        item = self._call(
            constants.PLAYLISTS,
            "get_item",
            TableName=self.table_name(constants.PLAYLISTS),
            Key={PLAYLIST_ID: {"S": playlist_id}},
            ConsistentRead=True,
            ProjectionExpression="#h",
            ExpressionAttributeNames={"#h": HASH_COLUMN},
        ).get("Item", {})
        return item.get(HASH_COLUMN, {}).get("S")

    def save_playlist_row(self, record, row, row_hash):
        actions = [*map(self._lease_check, self._leases())]
        if row is not None:
            item = self._item(constants.PLAYLISTS, {**row, HASH_COLUMN: row_hash})
            actions.append(
                {"Put": {"TableName": self.table_name(constants.PLAYLISTS), "Item": item}}
            )
        self._transact([*actions, self._record_update(record, constants.PLAYLISTS)])

    # --- entities ------------------------------------------------------------------------------

    def entity_items(self, table: str, keys: Iterable[str]) -> dict[str, EntityItem]:
        key_column = ENTITY_KEYS[table]
        table_schema = serving_schema(table)
        items = {}
        for chunk in chunked(list(dict.fromkeys(keys)), BATCH_GET_LIMIT):
            request = {
                "Keys": [{key_column: {"S": value}} for value in chunk],
                "ConsistentRead": True,
            }
            for found in self._batch_get(table, request):
                row = dict(zip(table_schema.names, from_item(found, table_schema), strict=True))
                item = EntityItem(
                    row[key_column],
                    row,
                    found.get(HASH_COLUMN, {}).get("S"),
                    revision=found.get(REVISION, {}).get("S"),
                )
                items[item.key] = item.load_history(found.get(HISTORY_COLUMN, {}).get("S"))
        return items

    def _batch_get(self, table: str, request: dict) -> list[dict]:
        """Every item of one BatchGetItem, asking again for the keys DynamoDB left unprocessed."""
        name = self.table_name(table)
        pending = {name: request}
        items: list[dict] = []
        delays = self._retry_delays()
        while True:
            response = self._call(table, "batch_get_item", RequestItems=pending)
            items += response.get("Responses", {}).get(name, [])
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                return items
            delay = next(delays, None)
            if delay is None:
                raise DynamoDBCapacityError(
                    f"DynamoDB left {len(pending[name]['Keys'])} keys of table {name} "
                    f"unprocessed after {self.retries} retries; run the partition again later"
                )
            time.sleep(delay)

    def playlist_keys(self, table: str, playlist_id: str) -> dict[str, bool]:
        items = self._paginate(
            "query",
            PLAYLIST_KEYS,
            {
                "TableName": self.table_name(PLAYLIST_KEYS),
                "KeyConditionExpression": "#p = :p AND begins_with(#e, :t)",
                "ExpressionAttributeNames": {"#p": PLAYLIST_ID, "#e": ENTITY},
                "ExpressionAttributeValues": {
                    ":p": {"S": playlist_id},
                    ":t": {"S": f"{table}#"},
                },
                "ConsistentRead": True,
            },
        )
        # An entry written before the flag existed reads as open: a read too many, never a run
        # missed.
        return {
            item[ENTITY]["S"].split("#", 1)[1]: item.get(OPEN, {}).get("BOOL", True)
            for item in items
        }

    def _paginate(self, operation: str, table: str, arguments: dict) -> list[dict]:
        items = []
        with self._clear_errors(table):
            for page in self.client.get_paginator(operation).paginate(**arguments):
                items += page["Items"]
        return items

    def write_entity_items(self, table, playlist_id, items, deletes, keys_indexed, keys_dropped):
        key_column = ENTITY_KEYS[table]
        name = self.table_name(table)
        columns = serving_schema(table).names

        def condition(item: EntityItem) -> dict:
            if item.revision is None:
                return {
                    "ConditionExpression": "attribute_not_exists(#k)",
                    "ExpressionAttributeNames": {"#k": key_column},
                }
            return {
                "ConditionExpression": "#r = :r",
                "ExpressionAttributeNames": {"#r": REVISION},
                "ExpressionAttributeValues": {":r": {"S": item.revision}},
            }

        puts = [
            (
                item,
                self._item(
                    table,
                    {
                        **{c: item.row.get(c) for c in columns},
                        HASH_COLUMN: item.row_hash,
                        HISTORY_COLUMN: item.history_json(),
                        REVISION: uuid.uuid4().hex,
                    },
                ),
            )
            for item in items
        ]  # every size checked before the first write
        keys_table = self.table_name(PLAYLIST_KEYS)

        def entity_key(key: str) -> dict:
            return {PLAYLIST_ID: {"S": playlist_id}, ENTITY: {"S": f"{table}#{key}"}}

        calls = [
            (table, "put_item", {"TableName": name, "Item": new, **condition(item)})
            for item, new in puts
        ]
        calls += [
            (
                table,
                "delete_item",
                {"TableName": name, "Key": {key_column: {"S": item.key}}, **condition(item)},
            )
            for item in deletes
        ]

        def index_put(key: str, is_open: bool) -> tuple:
            item = {**entity_key(key), OPEN: {"BOOL": is_open}}
            return (PLAYLIST_KEYS, "put_item", {"TableName": keys_table, "Item": item})

        # Entries that say open go with the items; those that close or drop only after them (see
        # ServingStore.write_entity_items).
        calls += [index_put(key, True) for key, is_open in keys_indexed.items() if is_open]
        after_items = [
            index_put(key, False) for key, is_open in keys_indexed.items() if not is_open
        ]
        after_items += [
            (PLAYLIST_KEYS, "delete_item", {"TableName": keys_table, "Key": entity_key(key)})
            for key in keys_dropped
        ]

        def call(target: str, operation: str, arguments: dict) -> None:
            try:
                self._call(target, operation, **arguments)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    raise ConcurrentWriteError(
                        f"another writer changed a {table} item meanwhile; run the partition again"
                    ) from error
                raise

        self._in_parallel(call, calls)
        self._in_parallel(call, after_items)

    def _in_parallel(self, function, calls: list[tuple]) -> None:
        if not calls:
            return
        pool = ThreadPoolExecutor(max_workers=self.write_threads)
        try:
            for future in [pool.submit(function, *arguments) for arguments in calls]:
                future.result()
        finally:
            # On a failure the writes not yet started are dropped rather than sent.
            pool.shutdown(cancel_futures=True)

    def referenced(self, table: str, keys: Iterable[str]) -> set[str]:
        found = set()
        for key in dict.fromkeys(keys):
            for other, column in REFERENCED_BY[table]:
                response = self._call(
                    other,
                    "query",
                    TableName=self.table_name(other),
                    IndexName=f"by_{column.removesuffix('_id')}",
                    KeyConditionExpression="#c = :v",
                    ExpressionAttributeNames={"#c": column},
                    ExpressionAttributeValues={":v": {"S": key}},
                    Limit=1,
                )
                if response["Items"]:
                    found.add(key)
                    break
        return found

    # --- entries -------------------------------------------------------------------------------

    def _entry_items(self, playlist_id: str) -> list[dict]:
        return self._paginate(
            "query",
            constants.PLAYLIST_ENTRIES,
            {
                "TableName": self.table_name(constants.PLAYLIST_ENTRIES),
                "KeyConditionExpression": "#p = :p",
                "ExpressionAttributeNames": {"#p": PLAYLIST_ID},
                "ExpressionAttributeValues": {":p": {"S": playlist_id}},
                "ConsistentRead": True,
            },
        )

    def stored_entries(self, playlist_id: str, version: int) -> list[StoredEntry]:
        columns = entry_columns()
        entry_schema = pa.schema(
            [serving_schema(constants.PLAYLIST_ENTRIES).field(c) for c in columns]
        )
        entries = [
            StoredEntry(
                item[ENTRY_ID]["S"],
                item[ORDER_KEY]["S"],
                dict(zip(columns, from_item(item, entry_schema), strict=True)),
            )
            for item in self._entry_items(playlist_id)
            if visible(item, version)
        ]
        return sorted(entries, key=lambda entry: entry.order_key)

    def publish_entries(self, record, plan, previous_version):
        table = constants.PLAYLIST_ENTRIES
        name = self.table_name(table)
        lease = f"{table}/{record.playlist_id}"
        new_version = record.version

        def key(entry_id: str) -> dict:
            return {PLAYLIST_ID: {"S": record.playlist_id}, ENTRY_ID: {"S": entry_id}}

        def put(entry: StoredEntry, **versions) -> dict:
            row = {
                PLAYLIST_ID: record.playlist_id,
                ENTRY_ID: entry.entry_id,
                ORDER_KEY: entry.order_key,
                **entry.row,
                **versions,
            }
            return {"Put": {"TableName": name, "Item": self._item(table, row)}}

        def set_to(entry_id: str, version: int | None) -> dict:
            update = {"TableName": name, "Key": key(entry_id)}
            if version is None:
                update["UpdateExpression"] = "REMOVE #to"
            else:
                update["UpdateExpression"] = "SET #to = :to"
                update["ExpressionAttributeValues"] = {":to": {"N": str(version)}}
            update["ExpressionAttributeNames"] = {"#to": TO_VERSION}
            return {"Update": update}

        # What a writer that died left behind: invisible entries, marks of removal never
        # published, and entries no reader of the current or the previous version sees. An
        # entry this plan writes is left to the plan (one action per item in a transaction).
        planned = {entry.entry_id for entry in [*plan.updates, *plan.deletes]}
        cleanup = []
        for item in self._entry_items(record.playlist_id):
            entry_id = item[ENTRY_ID]["S"]
            if entry_id in planned:
                continue
            if int(item.get(FROM_VERSION, {}).get("N", 0)) > previous_version:
                cleanup.append({"Delete": {"TableName": name, "Key": key(entry_id)}})
            elif TO_VERSION in item and int(item[TO_VERSION]["N"]) > previous_version:
                cleanup.append(set_to(entry_id, None))
            elif TO_VERSION in item and int(item[TO_VERSION]["N"]) < previous_version:
                cleanup.append({"Delete": {"TableName": name, "Key": key(entry_id)}})
        in_place = [
            *(put(entry) for entry in [*plan.puts, *plan.updates]),
            *({"Delete": {"TableName": name, "Key": key(e.entry_id)}} for e in plan.deletes),
        ]
        if len(cleanup) + len(in_place) <= TRANSACTION_ITEMS - 2:
            # One transaction: readers see the old snapshot or the new one.
            self._transact(
                [
                    self._lease_check(lease),
                    *cleanup,
                    *in_place,
                    self._flip(record, previous_version),
                ]
            )
            return
        # Too many for one transaction: the new entries are written invisible to readers of the
        # current version and the removed ones marked, then the version item switches them.
        staged = [put(entry, **{FROM_VERSION: new_version}) for entry in plan.puts]
        for entry in plan.updates:
            staged.append(set_to(entry.entry_id, new_version))
            copy = StoredEntry(uuid.uuid4().hex[:16], entry.order_key, entry.row)
            staged.append(put(copy, **{FROM_VERSION: new_version}))
        staged += [set_to(entry.entry_id, new_version) for entry in plan.deletes]
        for group in self._transactions([*cleanup, *staged]):
            self._transact([self._lease_check(lease), *group])
        self._transact([self._lease_check(lease), self._flip(record, previous_version)])

    def _flip(self, record: PlaylistRecord, previous_version: int) -> dict:
        """The write that publishes the record's snapshot: its week, version and digest."""
        values = {
            ":week": {"S": record.week},
            ":version": {"N": str(record.version)},
            ":digest": {"S": record.entries_digest},
            ":weeks": {"S": json.dumps(record.weeks[constants.PLAYLIST_ENTRIES], sort_keys=True)},
            ":previous": {"N": str(previous_version)},
        }
        names = {
            "#week": WEEK_COLUMN,
            "#version": VERSION,
            "#digest": HASH_COLUMN,
            "#weeks": f"weeks_{constants.PLAYLIST_ENTRIES}",
        }
        assignments = [
            "#week = :week",
            "#version = :version",
            "#digest = :digest",
            "#weeks = :weeks",
        ]
        for index, column in enumerate(SNAPSHOT_COLUMNS):
            value = record.snapshot.get(column)
            if value is not None:
                names[f"#s{index}"] = column
                values[f":s{index}"] = {"S": value}
                assignments.append(f"#s{index} = :s{index}")
        removed = [
            f"#r{index}"
            for index, c in enumerate(SNAPSHOT_COLUMNS)
            if record.snapshot.get(c) is None
        ]
        names.update(
            {
                f"#r{index}": c
                for index, c in enumerate(SNAPSHOT_COLUMNS)
                if record.snapshot.get(c) is None
            }
        )
        expression = (
            "SET " + ", ".join(assignments) + (f" REMOVE {', '.join(removed)}" if removed else "")
        )
        return {
            "Update": {
                "TableName": self.table_name(PLAYLIST_VERSIONS),
                "Key": {PLAYLIST_ID: {"S": record.playlist_id}},
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_not_exists(#version) OR #version = :previous"
                if previous_version == 0
                else "#version = :previous",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    @staticmethod
    def _transactions(changes: list[dict]) -> Iterator[list[dict]]:
        """The changes in groups that fit one transaction beside the lease check."""
        group: list[dict] = []
        size = 0
        for change in changes:
            [(_, action)] = change.items()
            change_size = item_size(action.get("Item") or action["Key"])
            if group and (
                len(group) == TRANSACTION_ITEMS - 1 or size + change_size > TRANSACTION_BYTES
            ):
                yield group
                group, size = [], 0
            group.append(change)
            size += change_size
        if group:
            yield group

    def _transact(self, actions: list[dict]) -> None:
        """Runs one transaction. A lost lease or a version changed meanwhile raises
        ConcurrentWriteError; conflicts and throttling are retried here (the SDK retries
        neither: they come back as a cancelled transaction)."""
        delays = self._retry_delays()
        while True:
            try:
                self._call(
                    constants.PLAYLIST_ENTRIES, "transact_write_items", TransactItems=actions
                )
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise ConcurrentWriteError(
                        "another run published this playlist's entries meanwhile; run the "
                        "partition again"
                    ) from error
                if not set(reasons) & set(RETRYABLE_CANCELLATIONS):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise DynamoDBCapacityError(
                        f"DynamoDB cancelled a write of playlist entries ({', '.join(reasons)}) "
                        f"{self.retries + 1} times; run the partition again later"
                    ) from error
                time.sleep(delay)

    # --- reads ---------------------------------------------------------------------------------

    def _scan(self, table: str) -> list[dict]:
        arguments = {"TableName": self.table_name(table), "ConsistentRead": True}
        return self._paginate("scan", table, arguments)

    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        table_schema = serving_schema(table)
        if table == constants.PLAYLISTS and playlist_id is not None:
            item = self._call(
                table,
                "get_item",
                TableName=self.table_name(table),
                Key={PLAYLIST_ID: {"S": playlist_id}},
                ConsistentRead=True,
            ).get("Item")
            return table_from_plain_rows(
                [from_item(item, table_schema)] if item else [], table_schema
            )
        if table != constants.PLAYLIST_ENTRIES:
            records = [from_item(item, table_schema) for item in self._scan(table)]
            records.sort(key=lambda record: record[0])
            return table_from_plain_rows(records, table_schema)
        playlists = [playlist_id] if playlist_id is not None else self.served_playlists()
        records = []
        for playlist in playlists:
            record = self.playlist_record(playlist)
            for position, entry in enumerate(self.stored_entries(playlist, record.version)):
                row = {PLAYLIST_ID: playlist, POSITION: position, **entry.row, **record.snapshot}
                records.append([row.get(name) for name in table_schema.names])
        return table_from_plain_rows(records, table_schema)

    def served_playlists(self) -> list[str]:
        return sorted(
            item[PLAYLIST_ID]["S"] for item in self._scan(PLAYLIST_VERSIONS) if WEEK_COLUMN in item
        )

    def clear(self) -> None:
        for table in ALL_TABLES:
            key_names = ALL_TABLES[table].key_names
            for item in self._scan(table):
                self._call(
                    table,
                    "delete_item",
                    TableName=self.table_name(table),
                    Key={name: item[name] for name in key_names},
                )


def visible(item: Mapping, version: int) -> bool:
    """Whether an entry item belongs to the playlist's snapshot at ``version``."""
    since = int(item.get(FROM_VERSION, {}).get("N", 0))
    until = item.get(TO_VERSION)
    return since <= version and (until is None or int(until["N"]) > version)


class DynamoDBResource(ResourceWithBoto3Configuration):
    """A DynamoDB client. Region, endpoint (``AWS_ENDPOINT_URL``) and credentials come from the
    standard AWS settings unless set here. Throttled requests are retried by the SDK in its
    adaptive mode, which also slows the client down to what the table accepts."""

    max_attempts: int = Field(
        default=10, description="Attempts per request, the first included, before giving up."
    )
    retry_mode: str = Field(default="adaptive", description="botocore's retry mode.")
    max_pool_connections: int = Field(
        default=10, description="HTTP connections; at least the serving store's write threads."
    )

    def get_client(self):
        session = boto3.session.Session(profile_name=self.profile_name)
        region = self.region_name or session.region_name
        if not region:
            raise ValueError(
                "DynamoDB needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a region "
                "in the AWS profile)"
            )
        return session.client(
            "dynamodb",
            region_name=region,
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=Config(
                retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
                max_pool_connections=self.max_pool_connections,
            ),
        )


class DynamoDBServingIOManager(dg.ConfigurableIOManagerFactory):
    """The serving tables in DynamoDB (aws deployment): one table per serving asset, named
    ``<table_prefix><table>``. Only new and changed items are written, each conditioned on what
    was read, so concurrent partitions and backfills never overwrite a newer week."""

    dynamodb: dg.ResourceDependency[DynamoDBResource]
    table_prefix: str
    write_threads: int = Field(default=8, description="Concurrent conditional PutItem requests.")

    def create_io_manager(self, context) -> ServingIOManager:
        store = DynamoDBServingStore(
            self.dynamodb.get_client(), self.table_prefix, write_threads=self.write_threads
        )
        return ServingIOManager(store)
