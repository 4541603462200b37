"""The serving store in DynamoDB (aws deployment): one table per serving asset, as defined in
:mod:`spotify_assets.aws.tables`, written by the rules of :mod:`spotify_assets.io_managers.serving`.

What it costs: the comparison reads are one BatchGetItem per 100 keys (only the version
attributes come back); only new and changed items are written. Each entity item is a conditional
PutItem on the version that was read, from a small thread pool: entities are independent, a
failed condition costs one item, not a batch, and a plain write costs half a transactional one.
A playlist's changed entries go in TransactWriteItems of up to 99 entries plus the playlist's
version item, conditioned on the version read before the entries: no run can mix its entries
with another's, and a backfill never overwrites a newer week.
"""

import math
import random
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
from spotify_assets.aws.tables import ALL_TABLES, PLAYLIST_VERSIONS
from spotify_assets.io_managers.serving import (
    ENTITY_KEYS,
    HASH_COLUMN,
    KEEP_EARLIEST,
    PLAYLIST_ID,
    POSITION,
    SNAPSHOT_COLUMNS,
    WEEK_COLUMN,
    ServingIOManager,
    ServingStore,
    ServingStoreError,
    StoredVersion,
    serving_schema,
    table_from_plain_rows,
)

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
REVISION = "revision"  # playlist_versions: changes with every write of the playlist's entries
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
    """The serving tables in DynamoDB; ``client`` is a boto3 DynamoDB client."""

    def __init__(
        self,
        client,
        table_prefix: str,
        write_threads: int = 8,
        retries: int = 8,
        backoff_base: float = 0.05,
        backoff_cap: float = 5.0,
    ):
        self.client = client
        self.table_prefix = table_prefix
        self.write_threads = write_threads
        self.retries = retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap

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
                f"{ITEM_SIZE_LIMIT:,} (largest attribute: {largest}); no {table} item of this "
                "partition was written, and the lake keeps the row"
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

    # --- reads ---------------------------------------------------------------------------------

    def stored_versions(self, table: str, keys: Iterable[str]) -> dict[str, StoredVersion]:
        key = ENTITY_KEYS[table]
        earliest_column = KEEP_EARLIEST.get(table)
        attributes = [key, WEEK_COLUMN, HASH_COLUMN, *filter(None, [earliest_column])]
        names = {f"#a{index}": name for index, name in enumerate(attributes)}
        earliest_schema = pa.schema(
            [serving_schema(table).field(earliest_column)] if earliest_column else []
        )
        versions = {}
        for chunk in chunked(list(dict.fromkeys(keys)), BATCH_GET_LIMIT):
            request = {
                "Keys": [{key: {"S": value}} for value in chunk],
                "ProjectionExpression": ", ".join(names),
                "ExpressionAttributeNames": names,
                "ConsistentRead": True,
            }
            for item in self._batch_get(table, request):
                earliest = from_item(item, earliest_schema)[0] if earliest_column else None
                versions[item[key]["S"]] = StoredVersion(
                    item[WEEK_COLUMN]["S"], item[HASH_COLUMN]["S"], earliest
                )
        return versions

    def _batch_get(self, table: str, request: dict) -> list[dict]:
        """Every item of one BatchGetItem, asking again for the keys DynamoDB left unprocessed."""
        name = self.table_name(table)
        pending = {name: request}
        items: list[dict] = []
        delays = self._retry_delays()
        while True:
            with self._clear_errors(table):
                response = self.client.batch_get_item(RequestItems=pending)
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

    def _version_item(self, playlist_id: str) -> dict | None:
        with self._clear_errors(PLAYLIST_VERSIONS):
            response = self.client.get_item(
                TableName=self.table_name(PLAYLIST_VERSIONS),
                Key={PLAYLIST_ID: {"S": playlist_id}},
                ConsistentRead=True,
            )
        return response.get("Item")

    def playlist_version(self, playlist_id: str) -> StoredVersion | None:
        item = self._version_item(playlist_id)
        if item is None:
            return None
        return StoredVersion(
            week=item[WEEK_COLUMN]["S"],
            row_hash=item.get(HASH_COLUMN, {}).get("S"),  # absent while a write is under way
            revision=item[REVISION]["S"],
        )

    def stored_entries(self, playlist_id: str) -> dict[int, str]:
        items = self._query_entries(playlist_id, projection=[POSITION, HASH_COLUMN])
        return {int(item[POSITION]["N"]): item[HASH_COLUMN]["S"] for item in items}

    def _query_entries(self, playlist_id: str, projection: list[str] | None = None) -> list[dict]:
        arguments = {
            "TableName": self.table_name(constants.PLAYLIST_ENTRIES),
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": PLAYLIST_ID},
            "ExpressionAttributeValues": {":p": {"S": playlist_id}},
            "ConsistentRead": True,
        }
        if projection:
            names = {f"#a{index}": name for index, name in enumerate(projection)}
            arguments["ProjectionExpression"] = ", ".join(names)
            arguments["ExpressionAttributeNames"].update(names)
        return self._paginate("query", constants.PLAYLIST_ENTRIES, arguments)

    def _scan(self, table: str) -> list[dict]:
        arguments = {"TableName": self.table_name(table), "ConsistentRead": True}
        return self._paginate("scan", table, arguments)

    def _paginate(self, operation: str, table: str, arguments: dict) -> list[dict]:
        items = []
        with self._clear_errors(table):
            for page in self.client.get_paginator(operation).paginate(**arguments):
                items += page["Items"]
        return items

    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        table_schema = serving_schema(table)
        if table == constants.PLAYLIST_ENTRIES and playlist_id is not None:
            items = self._query_entries(playlist_id)
        else:
            items = self._scan(table)
        if table == constants.PLAYLIST_ENTRIES:
            # The snapshot's columns are kept once, on the playlist's version item.
            if playlist_id is not None:
                versions = [self._version_item(playlist_id) or {}]
            else:
                versions = self._scan(PLAYLIST_VERSIONS)
            snapshots = {
                version[PLAYLIST_ID]["S"]: {c: version[c] for c in SNAPSHOT_COLUMNS if c in version}
                for version in versions
                if version
            }
            items = [{**item, **snapshots.get(item[PLAYLIST_ID]["S"], {})} for item in items]
        records = [from_item(item, table_schema) for item in items]
        key_columns = [table_schema.names.index(name) for name in ALL_TABLES[table].key_names]
        records.sort(key=lambda record: [record[index] for index in key_columns])
        return table_from_plain_rows(records, table_schema)

    # --- writes --------------------------------------------------------------------------------

    def put_entities(
        self, table: str, rows: list[dict], expected: Mapping[str, StoredVersion]
    ) -> set[str]:
        key = ENTITY_KEYS[table]
        name = self.table_name(table)
        items = [(row[key], self._item(table, row)) for row in rows]  # every size checked first

        def put(key_value: str, item: dict) -> str | None:
            version = expected.get(key_value)
            if version is None:
                condition = {
                    "ConditionExpression": "attribute_not_exists(#k)",
                    "ExpressionAttributeNames": {"#k": key},
                }
            else:
                condition = {
                    "ConditionExpression": "#w = :w AND #h = :h",
                    "ExpressionAttributeNames": {"#w": WEEK_COLUMN, "#h": HASH_COLUMN},
                    "ExpressionAttributeValues": {
                        ":w": {"S": version.week},
                        ":h": {"S": version.row_hash},
                    },
                }
            try:
                with self._clear_errors(table):
                    self.client.put_item(TableName=name, Item=item, **condition)
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    return key_value
                raise
            return None

        if not items:
            return set()
        pool = ThreadPoolExecutor(max_workers=self.write_threads)
        try:
            futures = [pool.submit(put, key_value, item) for key_value, item in items]
            return {future.result() for future in futures} - {None}
        finally:
            # On a failure the writes not yet started are dropped rather than sent.
            pool.shutdown(cancel_futures=True)

    def write_playlist_entries(
        self,
        playlist_id: str,
        puts: list[dict],
        deletes: list[int],
        version: StoredVersion,
        expected: StoredVersion | None,
        snapshot: Mapping[str, object],
    ) -> bool:
        entries = self.table_name(constants.PLAYLIST_ENTRIES)
        changes = [
            {"Put": {"TableName": entries, "Item": self._item(constants.PLAYLIST_ENTRIES, row)}}
            for row in [{k: v for k, v in row.items() if k not in SNAPSHOT_COLUMNS} for row in puts]
        ]
        changes += [
            {
                "Delete": {
                    "TableName": entries,
                    "Key": {PLAYLIST_ID: {"S": playlist_id}, POSITION: {"N": str(position)}},
                }
            }
            for position in deletes
        ]
        transactions = list(self._transactions(changes)) or [[]]
        previous = expected
        for index, transaction in enumerate(transactions):
            header = {
                PLAYLIST_ID: {"S": playlist_id},
                WEEK_COLUMN: {"S": version.week},
                REVISION: {"S": uuid.uuid4().hex},
                **to_item(snapshot),
            }
            if index == len(transactions) - 1:
                # Only the last transaction marks the snapshot complete: a run that dies half
                # way leaves no digest, so its re-run writes the rest instead of skipping.
                header[HASH_COLUMN] = {"S": version.row_hash}
            put_header = {"TableName": self.table_name(PLAYLIST_VERSIONS), "Item": header}
            if previous is None:
                put_header["ConditionExpression"] = "attribute_not_exists(#p)"
                put_header["ExpressionAttributeNames"] = {"#p": PLAYLIST_ID}
            else:
                put_header["ConditionExpression"] = "#r = :r"
                put_header["ExpressionAttributeNames"] = {"#r": REVISION}
                put_header["ExpressionAttributeValues"] = {":r": {"S": previous.revision}}
            if not self._transact([{"Put": put_header}, *transaction]):
                return False
            previous = StoredVersion(version.week, None, revision=header[REVISION]["S"])
        return True

    @staticmethod
    def _transactions(changes: list[dict]) -> Iterator[list[dict]]:
        """The changes in groups that fit one transaction beside the playlist's version item."""
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

    def _transact(self, actions: list[dict]) -> bool:
        """Runs one transaction; False when the playlist's version is no longer the expected one.

        Conflicts with another transaction on the same items and throttled items are retried
        here (the SDK retries neither: they come back as a cancelled transaction)."""
        delays = self._retry_delays()
        while True:
            try:
                with self._clear_errors(constants.PLAYLIST_ENTRIES):
                    self.client.transact_write_items(TransactItems=actions)
                return True
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if not set(reasons) & set(RETRYABLE_CANCELLATIONS):
                    raise
                delay = next(delays, None)
                if delay is None:
                    raise DynamoDBCapacityError(
                        f"DynamoDB cancelled a write of playlist entries ({', '.join(reasons)}) "
                        f"{self.retries + 1} times; run the partition again later"
                    ) from error
                time.sleep(delay)


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
