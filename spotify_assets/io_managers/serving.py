"""The serving store: each entity's latest attributes and each playlist's latest snapshot.

The rules, the same for every backend (SQLite here, DynamoDB in aws):
- entity rows (artists, albums, songs) are upserted by primary key; a row is written only when it
  is new or its content changed, and never over a row that a newer week wrote;
- ``songs.song_added`` keeps the earliest ``added_at`` ever seen for the song;
- a playlist's entries are replaced only by a week at least as new as the stored one, and only
  when they changed; positions past the new end are deleted;
- a partition older than the newest week already served for its playlist writes nothing at all
  (a backfill refreshes the lake, never the current state).
"""

import hashlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.transforms import schema

ENTITY_KEYS = {
    constants.ARTISTS: "artist_id",
    constants.ALBUMS: "album_id",
    constants.SONGS: "song_id",
}
KEEP_EARLIEST = {constants.SONGS: "song_added"}
# Columns the serving tables add to the lake's columns.
WEEK_COLUMN = "week"
HASH_COLUMN = "row_hash"
PLAYLIST_ID = "playlist_id"


def serving_schema(table: str) -> pa.Schema:
    """The columns a serving table returns: the lake's, with playlist_id first for entries."""
    lake_schema = schema.TABLE_SCHEMAS[table]
    if table == constants.PLAYLIST_ENTRIES:
        return pa.schema([pa.field(PLAYLIST_ID, pa.string(), nullable=False), *lake_schema])
    return lake_schema


def plain_rows(table: pa.Table) -> list[dict]:
    """Rows of plain values (str, int, bool, None): timestamps become epoch milliseconds."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, table.column(index).cast(pa.int64()))
    return table.to_pylist()


def table_from_plain_rows(records: Sequence[Sequence], table_schema: pa.Schema) -> pa.Table:
    """The inverse of :func:`plain_rows`, from records holding the schema's columns in order."""
    columns = list(zip(*records, strict=True)) or [[] for _ in table_schema]
    arrays = []
    for values, field in zip(columns, table_schema, strict=True):
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, pa.int64()).cast(field.type))
        elif pa.types.is_boolean(field.type):
            arrays.append(pa.array([None if v is None else bool(v) for v in values], field.type))
        else:
            arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=table_schema)


def row_hash(row: dict, columns: Sequence[str]) -> str:
    """A short digest of a row's values: equal digests mean nothing to write."""
    text = repr(tuple(row[column] for column in columns))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class StoredVersion:
    """What the store holds for one key: enough to decide whether to write."""

    week: str
    row_hash: str
    earliest: object = None  # the stored KEEP_EARLIEST value, where the table has one


@dataclass
class WriteSummary:
    """What one partition did to the serving store; becomes the materialization's metadata."""

    rows_in: int = 0
    written: int = 0
    unchanged: int = 0
    kept_newer: int = 0
    deleted: int = 0
    note: str = ""

    def as_metadata(self) -> dict:
        metadata = {
            "rows_in": self.rows_in,
            "rows_written": self.written,
            "rows_unchanged": self.unchanged,
            "rows_kept_newer": self.kept_newer,
            "rows_deleted": self.deleted,
        }
        if self.note:
            metadata["note"] = self.note
        return metadata


def plan_entity_writes(
    table: str, rows: list[dict], week: str, stored: dict[str, StoredVersion]
) -> tuple[list[dict], WriteSummary]:
    """The rows to write (with their week and hash) and the counts, given what is stored."""
    key = ENTITY_KEYS[table]
    earliest_column = KEEP_EARLIEST.get(table)
    columns = schema.TABLE_SCHEMAS[table].names
    summary = WriteSummary(rows_in=len(rows))
    to_write = []
    for row in rows:
        version = stored.get(row[key])
        if version is not None and version.week > week:
            summary.kept_newer += 1
            continue
        if earliest_column and version is not None and version.earliest is not None:
            incoming = row[earliest_column]
            earliest = version.earliest if incoming is None else min(incoming, version.earliest)
            row = {**row, earliest_column: earliest}
        digest = row_hash(row, columns)
        if version is not None and version.row_hash == digest:
            summary.unchanged += 1
            continue
        to_write.append({**row, WEEK_COLUMN: week, HASH_COLUMN: digest})
    summary.written = len(to_write)
    return to_write, summary


class ServingStore(ABC):
    """A backend of the serving tables; the rules above live in the IO manager, not here."""

    @abstractmethod
    def stored_versions(self, table: str, keys: Iterable[str]) -> dict[str, StoredVersion]: ...

    @abstractmethod
    def put_entities(self, table: str, rows: list[dict]) -> None: ...

    @abstractmethod
    def playlist_version(self, playlist_id: str) -> StoredVersion | None:
        """The week and digest of the playlist's served entries, or None."""

    @abstractmethod
    def replace_playlist_entries(
        self, playlist_id: str, rows: list[dict], version: StoredVersion
    ) -> int:
        """Writes the playlist's entries, deletes positions past the end; returns rows deleted."""

    @abstractmethod
    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table: ...


class SQLiteServingStore(ServingStore):
    """The serving tables in one SQLite file; every write is one transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")
        for table in constants.SERVING_TABLES:
            columns = [*serving_schema(table).names, WEEK_COLUMN, HASH_COLUMN]
            if table == constants.PLAYLIST_ENTRIES:
                primary_key = f"{PLAYLIST_ID}, position"
            else:
                primary_key = ENTITY_KEYS[table]
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table} "
                f"({', '.join(columns)}, PRIMARY KEY ({primary_key}))"
            )
        connection.execute(
            "CREATE TABLE IF NOT EXISTS playlist_versions (playlist_id PRIMARY KEY, week, row_hash)"
        )
        return connection

    def stored_versions(self, table: str, keys: Iterable[str]) -> dict[str, StoredVersion]:
        key = ENTITY_KEYS[table]
        earliest = KEEP_EARLIEST.get(table, "NULL")
        keys = list(keys)
        versions = {}
        with closing(self._connect()) as connection:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = (
                    f"SELECT {key}, {WEEK_COLUMN}, {HASH_COLUMN}, {earliest} FROM {table} "
                    f"WHERE {key} IN ({', '.join('?' * len(chunk))})"
                )
                for row_key, week, digest, earliest_value in connection.execute(query, chunk):
                    versions[row_key] = StoredVersion(week, digest, earliest_value)
        return versions

    def put_entities(self, table: str, rows: list[dict]) -> None:
        if not rows:
            return
        columns = [*serving_schema(table).names, WEEK_COLUMN, HASH_COLUMN]
        with closing(self._connect()) as connection, connection:
            connection.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [[row[column] for column in columns] for row in rows],
            )

    def playlist_version(self, playlist_id: str) -> StoredVersion | None:
        with closing(self._connect()) as connection:
            found = connection.execute(
                "SELECT week, row_hash FROM playlist_versions WHERE playlist_id = ?", [playlist_id]
            ).fetchone()
        return StoredVersion(*found) if found else None

    def replace_playlist_entries(
        self, playlist_id: str, rows: list[dict], version: StoredVersion
    ) -> int:
        table = constants.PLAYLIST_ENTRIES
        columns = [*serving_schema(table).names, WEEK_COLUMN, HASH_COLUMN]
        extra = {WEEK_COLUMN: version.week, HASH_COLUMN: version.row_hash}
        values = [[{**row, **extra}[column] for column in columns] for row in rows]
        with closing(self._connect()) as connection, connection:
            connection.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                values,
            )
            deleted = connection.execute(
                f"DELETE FROM {table} WHERE {PLAYLIST_ID} = ? AND position >= ?",
                [playlist_id, len(rows)],
            ).rowcount
            connection.execute(
                "INSERT OR REPLACE INTO playlist_versions VALUES (?, ?, ?)",
                [playlist_id, version.week, version.row_hash],
            )
        return deleted

    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        table_schema = serving_schema(table)
        query = f"SELECT {', '.join(table_schema.names)} FROM {table}"
        parameters: list = []
        if playlist_id is not None and table == constants.PLAYLIST_ENTRIES:
            query += f" WHERE {PLAYLIST_ID} = ?"
            parameters.append(playlist_id)
        key = "position" if table == constants.PLAYLIST_ENTRIES else ENTITY_KEYS[table]
        with closing(self._connect()) as connection:
            records = connection.execute(f"{query} ORDER BY {key}", parameters).fetchall()
        return table_from_plain_rows(records, table_schema)


def newest_served_week(context: dg.OutputContext, playlist_id: str) -> str | None:
    """The newest week of this asset already materialized for the playlist, from Dagster's log."""
    try:
        instance = context.step_context.instance
    except dg.DagsterInvariantViolationError:  # a context built by hand, outside a run
        return None
    weeks = [
        key.split("|")[1]  # multi-partition keys list their dimensions in name order
        for key in instance.get_materialized_partitions(context.asset_key)
        if key.split("|")[0] == playlist_id
    ]
    return max(weeks, default=None)


class ServingIOManager(dg.IOManager):
    """Writes the serving tables by the rules in this module's docstring; loads current state.

    Loading a serving asset returns the whole current table for artists, albums and songs, and
    the playlist's current entries for ``playlist_entries``.
    """

    def __init__(self, store: ServingStore):
        self.store = store

    def handle_output(self, context: dg.OutputContext, obj: pa.Table) -> None:
        table = context.asset_key.path[-1]
        partition = context.partition_key.keys_by_dimension
        playlist_id, week = partition[constants.PLAYLIST], partition[constants.WEEK]
        newest = newest_served_week(context, playlist_id)
        if newest is not None and newest > week:
            summary = WriteSummary(
                rows_in=obj.num_rows,
                note=f"week {week} is older than week {newest}, already served for this "
                "playlist: the lake was refreshed, the serving state was left as it is",
            )
        elif table == constants.PLAYLIST_ENTRIES:
            summary = self._write_playlist_entries(playlist_id, week, plain_rows(obj))
        else:
            rows = plain_rows(obj)
            stored = self.store.stored_versions(table, [row[ENTITY_KEYS[table]] for row in rows])
            to_write, summary = plan_entity_writes(table, rows, week, stored)
            self.store.put_entities(table, to_write)
        context.add_output_metadata(summary.as_metadata())

    def _write_playlist_entries(self, playlist_id: str, week: str, rows: list[dict]):
        rows = [{PLAYLIST_ID: playlist_id, **row} for row in rows]
        columns = serving_schema(constants.PLAYLIST_ENTRIES).names
        digest = row_hash({"rows": [tuple(row[c] for c in columns) for row in rows]}, ["rows"])
        stored = self.store.playlist_version(playlist_id)
        summary = WriteSummary(rows_in=len(rows))
        if stored is not None and stored.week > week:
            summary.kept_newer = len(rows)
        elif stored is not None and stored.row_hash == digest:
            summary.unchanged = len(rows)
        else:
            version = StoredVersion(week, digest)
            summary.deleted = self.store.replace_playlist_entries(playlist_id, rows, version)
            summary.written = len(rows)
        return summary

    def load_input(self, context: dg.InputContext) -> pa.Table:
        playlist_id = None
        if context.has_asset_partitions:
            partition = context.asset_partition_key.keys_by_dimension
            playlist_id = partition[constants.PLAYLIST]
        return self.store.read_table(context.asset_key.path[-1], playlist_id)


class SQLiteServingIOManager(dg.ConfigurableIOManagerFactory):
    """The serving tables in one SQLite file (local deployment)."""

    database_path: str

    def create_io_manager(self, context) -> ServingIOManager:
        return ServingIOManager(SQLiteServingStore(self.database_path))
