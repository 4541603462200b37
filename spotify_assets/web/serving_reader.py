"""Reads of the serving store for the API: by key in batches, by index, a playlist's entries by
position. Never a scan: a request costs what it returns, however large the tables grow.

Separate from the IO managers' stores (:mod:`spotify_assets.io_managers.serving`), which own the
write paths: these readers open SQLite read-only and only read DynamoDB (GetItem, BatchGetItem,
Query), so the web app needs no write permission anywhere.
"""

import functools
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from spotify_assets.web.tables import (
    COLUMNS,
    ENTITY_KEYS,
    ENTRIES_IN_ORDER,
    FROM_VERSION,
    INDEXES,
    ORDER_KEY,
    PLAYLIST_ENTRIES,
    PLAYLIST_ID,
    PLAYLIST_VERSIONS,
    PLAYLISTS,
    POSITION,
    SNAPSHOT_ID,
    TO_VERSION,
    VERSION,
    WEEK,
    api_row,
    table_name,
)

BATCH_GET_LIMIT = 100  # keys per BatchGetItem, DynamoDB's limit
UNPROCESSED_RETRIES = 5
SNAPSHOT_READS = 3  # reads of a playlist's entries before a request gives up on a busy writer


@dataclass(frozen=True)
class Page:
    """Rows of an index, in the store's order, and where the next page starts (None: no more)."""

    rows: list[dict]
    after: str | None


@dataclass(frozen=True)
class PlaylistVersion:
    """The snapshot of a playlist that the serving store holds."""

    week: str
    snapshot_id: str | None
    version: int = 0  # the entries a reader reads are those visible at this version


class ServingReader(ABC):
    """Read-only access to the serving tables; rows come back as :func:`~.tables.api_row` gives
    them."""

    @abstractmethod
    def get_many(self, keys: Mapping[str, Iterable[str]]) -> dict[str, dict[str, dict]]:
        """The rows of these keys, by table and key (missing keys are left out), in as few
        round trips as the store allows: ``{"songs": ["id", ...], "albums": [...]}``."""

    def get(self, table: str, key: str) -> dict | None:
        """One row by its key, or None."""
        return self.get_many({table: [key]})[table].get(key)

    @abstractmethod
    def by_index(
        self, table: str, column: str, value: str, limit: int, after: str | None = None
    ) -> Page:
        """Up to ``limit`` rows whose ``column`` is ``value`` (songs by album or artist, albums
        by artist), starting after the row whose key is ``after``."""

    @abstractmethod
    def playlist_version(self, playlist_id: str) -> PlaylistVersion | None:
        """The week and snapshot the store serves for the playlist, or None if it has none."""

    def snapshot_entries(
        self, playlist_id: str, first: int, last: int
    ) -> tuple[PlaylistVersion, list[dict]] | None:
        """The served version and its entries at positions ``first`` to ``last``: the version is
        read again after the entries, and the read repeated if a new snapshot was published
        meanwhile, so the entries are all of one snapshot. None: the playlist is not served."""
        for _ in range(SNAPSHOT_READS):
            version = self.playlist_version(playlist_id)
            if version is None:
                return None
            rows = self.playlist_entries(playlist_id, first, last, version)
            if self.playlist_version(playlist_id) == version:
                return version, rows
        raise StoreUnavailableError(
            f"playlist {playlist_id} kept changing while it was read; try again in a moment"
        )

    @abstractmethod
    def playlist_entries(
        self, playlist_id: str, first: int, last: int, version: PlaylistVersion
    ) -> list[dict]:
        """The playlist's entries of the served ``version`` at positions ``first`` to ``last``
        (both included), in order, each with its position."""


class SQLiteServingReader(ServingReader):
    """The serving tables in the local SQLite file, opened read-only for each call; a file that
    does not exist yet reads as empty tables."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _query(self, sql: str, parameters: Iterable = ()) -> list[sqlite3.Row]:
        if not self.path.is_file():
            return []
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=30)) as connection:
            connection.row_factory = sqlite3.Row
            try:
                return connection.execute(sql, list(parameters)).fetchall()
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):  # the file exists, no run has written yet
                    return []
                raise

    def get_many(self, keys: Mapping[str, Iterable[str]]) -> dict[str, dict[str, dict]]:
        found: dict[str, dict[str, dict]] = {}
        for table, table_keys in keys.items():
            key = ENTITY_KEYS[table]
            wanted = list(dict.fromkeys(table_keys))
            found[table] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = self._query(
                    f"SELECT {', '.join(COLUMNS[table])} FROM {table} "
                    f"WHERE {key} IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                found[table].update({row[key]: api_row(table, dict(row)) for row in rows})
        return found

    def by_index(
        self, table: str, column: str, value: str, limit: int, after: str | None = None
    ) -> Page:
        if (table, column) not in INDEXES:  # only what DynamoDB can answer, on both stores
            raise ValueError(f"no index of {table} on {column}")
        key = ENTITY_KEYS[table]
        rows = self._query(
            f"SELECT {', '.join(COLUMNS[table])} FROM {table} "
            f"WHERE {column} = ? AND {key} > ? ORDER BY {key} LIMIT ?",
            [value, after or "", limit + 1],
        )
        page = [api_row(table, dict(row)) for row in rows[:limit]]
        return Page(page, page[-1][key] if len(rows) > limit else None)

    def playlist_version(self, playlist_id: str) -> PlaylistVersion | None:
        versions = self._query(
            f"SELECT {WEEK}, {SNAPSHOT_ID}, {VERSION} FROM {PLAYLIST_VERSIONS} "
            f"WHERE {PLAYLIST_ID} = ? AND {WEEK} IS NOT NULL",
            [playlist_id],
        )
        if not versions:
            return None
        return PlaylistVersion(versions[0][WEEK], versions[0][SNAPSHOT_ID], versions[0][VERSION])

    def playlist_entries(
        self, playlist_id: str, first: int, last: int, version: PlaylistVersion
    ) -> list[dict]:
        # One transaction publishes a snapshot here: what is stored is the served version.
        rows = self._query(
            f"SELECT {', '.join(c for c in COLUMNS[PLAYLIST_ENTRIES] if c != POSITION)} "
            f"FROM {PLAYLIST_ENTRIES} WHERE {PLAYLIST_ID} = ? ORDER BY {ORDER_KEY} "
            "LIMIT ? OFFSET ?",
            [playlist_id, last - first + 1, first],
        )
        return [
            api_row(PLAYLIST_ENTRIES, {**dict(row), POSITION: first + index})
            for index, row in enumerate(rows)
        ]


def served_playlist_names(database_path: str | Path, playlist_ids: Iterable[str]) -> dict[str, str]:
    """Each playlist's name in a SQLite serving store's ``playlists`` table (the name of its
    newest week served), for the playlists it holds with a name that is not blank; read-only,
    and an absent file or table reads as none. The local deployment's store is
    ``<data dir>/serving.sqlite``."""
    rows = SQLiteServingReader(database_path).get_many({PLAYLISTS: playlist_ids})[PLAYLISTS]
    return {
        playlist_id: row["name"]
        for playlist_id, row in rows.items()
        if isinstance(row["name"], str) and row["name"].strip()
    }


class StoreUnavailableError(RuntimeError):
    """The store did not answer in full after retries; the request may be tried again."""


def _plain(item: Mapping) -> dict:
    deserializer = _deserializer()
    return {name: deserializer.deserialize(value) for name, value in item.items()}


@functools.cache
def _deserializer():
    from boto3.dynamodb.types import TypeDeserializer  # only the DynamoDB reader needs boto3

    return TypeDeserializer()


class DynamoDBServingReader(ServingReader):
    """The serving tables in DynamoDB (``client`` is a boto3 DynamoDB client). Entities are read
    eventually consistent: half the cost, and a page view does not need the last second's write;
    a playlist's version and entries are read consistent, to be compared. Eventually
    consistent reads: half the cost, and a page view does not need the last second's write."""

    def __init__(self, client, table_prefix: str, retry_delay: float = 0.05):
        self.client = client
        self.table_prefix = table_prefix
        self.retry_delay = retry_delay

    def _name(self, table: str) -> str:
        return table_name(self.table_prefix, table)

    def get_many(self, keys: Mapping[str, Iterable[str]]) -> dict[str, dict[str, dict]]:
        # One BatchGetItem reads up to 100 keys of any tables together.
        wanted = [
            (table, value)
            for table, table_keys in keys.items()
            for value in dict.fromkeys(table_keys)
        ]
        tables = {self._name(table): table for table in keys}
        found: dict[str, dict[str, dict]] = {table: {} for table in keys}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            request: dict[str, dict] = {}
            for table, value in wanted[start : start + BATCH_GET_LIMIT]:
                # The columns only: an item also holds its key's history, for writers.
                names = {f"#c{index}": column for index, column in enumerate(COLUMNS[table])}
                request.setdefault(
                    self._name(table),
                    {
                        "Keys": [],
                        "ProjectionExpression": ", ".join(names),
                        "ExpressionAttributeNames": names,
                    },
                )["Keys"].append({ENTITY_KEYS[table]: {"S": value}})
            for name, items in self._batch_get(request).items():
                table = tables[name]
                for item in items:
                    row = api_row(table, _plain(item))
                    found[table][row[ENTITY_KEYS[table]]] = row
        return found

    def _batch_get(self, request: dict) -> dict[str, list]:
        items: dict[str, list] = {}
        for attempt in range(UNPROCESSED_RETRIES + 1):
            response = self.client.batch_get_item(RequestItems=request)
            for name, found in response.get("Responses", {}).items():
                items.setdefault(name, []).extend(found)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(self.retry_delay * 2**attempt)
        raise StoreUnavailableError("DynamoDB left keys unprocessed; try again in a moment")

    def by_index(
        self, table: str, column: str, value: str, limit: int, after: str | None = None
    ) -> Page:
        key = ENTITY_KEYS[table]
        arguments = {
            "TableName": self._name(table),
            "IndexName": INDEXES[(table, column)],
            "KeyConditionExpression": "#c = :v",
            "ExpressionAttributeNames": {"#c": column},
            "ExpressionAttributeValues": {":v": {"S": value}},
            "Limit": limit,
        }
        if after:
            # An index's page starts after a key holding the table's key and the index's.
            arguments["ExclusiveStartKey"] = {key: {"S": after}, column: {"S": value}}
        response = self.client.query(**arguments)
        rows = [api_row(table, _plain(item)) for item in response["Items"]]
        last = response.get("LastEvaluatedKey")
        return Page(rows, last[key]["S"] if last else None)

    def playlist_version(self, playlist_id: str) -> PlaylistVersion | None:
        item = self.client.get_item(
            TableName=self._name(PLAYLIST_VERSIONS),
            Key={PLAYLIST_ID: {"S": playlist_id}},
            ConsistentRead=True,  # compared with the version read after the entries
            ProjectionExpression="#w, #s, #v",
            ExpressionAttributeNames={"#w": WEEK, "#s": SNAPSHOT_ID, "#v": VERSION},
        ).get("Item")
        if item is None or WEEK not in item:
            return None
        version = _plain(item)
        return PlaylistVersion(version[WEEK], version.get(SNAPSHOT_ID), int(version[VERSION]))

    def playlist_entries(
        self, playlist_id: str, first: int, last: int, version: PlaylistVersion
    ) -> list[dict]:
        # In order of the entries' order keys; staged entries of another version are skipped,
        # so positions count the entries of this version only.
        arguments = {
            "TableName": self._name(PLAYLIST_ENTRIES),
            "IndexName": ENTRIES_IN_ORDER,
            "ConsistentRead": True,  # a local index allows it: a published version is all there
            "KeyConditionExpression": "#p = :p",
            "FilterExpression": "(attribute_not_exists(#f) OR #f <= :v) "
            "AND (attribute_not_exists(#t) OR #t > :v)",
            "ExpressionAttributeNames": {"#p": PLAYLIST_ID, "#f": FROM_VERSION, "#t": TO_VERSION},
            "ExpressionAttributeValues": {
                ":p": {"S": playlist_id},
                ":v": {"N": str(version.version)},
            },
        }
        rows: list[dict] = []
        position = 0
        while True:
            response = self.client.query(**arguments)
            for item in response["Items"]:
                if first <= position <= last:
                    rows.append(api_row(PLAYLIST_ENTRIES, {**_plain(item), POSITION: position}))
                position += 1
            if position > last or "LastEvaluatedKey" not in response:
                return rows
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
