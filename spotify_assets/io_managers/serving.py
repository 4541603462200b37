"""The serving store: each entity's latest attributes and each playlist's latest snapshot.

The rules, the same for every backend (SQLite here, DynamoDB in aws):
- entity rows (artists, albums, songs) are upserted by primary key; a row is written only when it
  is new or its content changed, and never over a row that a newer week wrote;
- ``songs.song_added`` keeps the earliest ``added_at`` the serving store has seen for the song;
- a playlist's entries are replaced only by a week at least as new as the stored one, and only
  the positions that changed are written; positions past the new end are deleted;
- a partition older than the newest week already served for its playlist writes no entries, and
  one older than the newest week served for any playlist writes no entity rows (a backfill
  refreshes the lake, never the current state; an unchanged row is not rewritten, so its stored
  week alone cannot tell a newer week saw it).

Writes are optimistic: the IO manager reads what is stored, plans, and the store writes only if
what it read is still there; when another run got there first, the IO manager reads and plans
again. So two partitions that share songs can run at the same time.
"""

import hashlib
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
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
POSITION = "position"
# Entry columns holding one value for the whole snapshot (Spotify's snapshot_id): every change to a
# playlist changes them on every entry, so they are compared and kept once per playlist, with its
# version, or every position would look changed.
SNAPSHOT_COLUMNS = ("snapshot_id",)
# Rounds of read, plan and conditional write before a partition gives up on concurrent writers.
MAX_WRITE_ROUNDS = 5


def serving_schema(table: str) -> pa.Schema:
    """The columns a serving table returns: the lake's, with playlist_id first for entries."""
    lake_schema = schema.TABLE_SCHEMAS[table]
    if table == constants.PLAYLIST_ENTRIES:
        return pa.schema([pa.field(PLAYLIST_ID, pa.string(), nullable=False), *lake_schema])
    return lake_schema


def plain_rows(table: pa.Table) -> list[dict]:
    """Rows of plain values (str, int, bool, None): timestamps become epoch milliseconds."""
    for index, field_ in enumerate(table.schema):
        if pa.types.is_timestamp(field_.type):
            table = table.set_column(index, field_.name, table.column(index).cast(pa.int64()))
    return table.to_pylist()


def table_from_plain_rows(records: Sequence[Sequence], table_schema: pa.Schema) -> pa.Table:
    """The inverse of :func:`plain_rows`, from records holding the schema's columns in order."""
    columns = list(zip(*records, strict=True)) or [[] for _ in table_schema]
    arrays = []
    for values, field_ in zip(columns, table_schema, strict=True):
        if pa.types.is_timestamp(field_.type):
            arrays.append(pa.array(values, pa.int64()).cast(field_.type))
        elif pa.types.is_boolean(field_.type):
            arrays.append(pa.array([None if v is None else bool(v) for v in values], field_.type))
        else:
            arrays.append(pa.array(values, field_.type))
    return pa.Table.from_arrays(arrays, schema=table_schema)


def row_hash(row: dict, columns: Sequence[str]) -> str:
    """A short digest of a row's values: equal digests mean nothing to write."""
    text = repr(tuple(row[column] for column in columns))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def playlist_digest(rows: list[dict]) -> str:
    """A digest of a whole snapshot of a playlist's entries (rows with their playlist_id)."""
    columns = serving_schema(constants.PLAYLIST_ENTRIES).names
    return row_hash({"rows": [tuple(row[c] for c in columns) for row in rows]}, ["rows"])


@dataclass(frozen=True)
class StoredVersion:
    """What the store holds for one key: enough to decide whether to write."""

    week: str
    row_hash: str | None  # None while a playlist's write is under way (see write_playlist_entries)
    earliest: object = None  # the stored KEEP_EARLIEST value, where the table has one
    revision: str | None = None  # an opaque marker a store may use to detect concurrent writers


def same_version(stored: StoredVersion | None, expected: StoredVersion | None) -> bool:
    """Whether what is stored now is still what a plan was made from."""
    if stored is None or expected is None:
        return stored is expected
    if expected.revision is not None:
        return stored.revision == expected.revision
    return (stored.week, stored.row_hash) == (expected.week, expected.row_hash)


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


@dataclass
class EntriesPlan:
    """The changes that turn a playlist's stored entries into a new snapshot."""

    puts: list[dict] = field(default_factory=list)  # changed or new positions, with week and hash
    deletes: list[int] = field(default_factory=list)  # stored positions the snapshot no longer has
    unchanged: int = 0


def entry_columns() -> list[str]:
    """The columns that make one entry differ from another: all but the snapshot's."""
    names = serving_schema(constants.PLAYLIST_ENTRIES).names
    return [name for name in names if name not in SNAPSHOT_COLUMNS]


def plan_playlist_entries(rows: list[dict], week: str, stored: Mapping[int, str]) -> EntriesPlan:
    """Only the positions whose content changed are written; ``stored`` maps position to hash."""
    columns = entry_columns()
    plan = EntriesPlan()
    for row in rows:
        digest = row_hash(row, columns)
        if stored.get(row[POSITION]) == digest:
            plan.unchanged += 1
        else:
            plan.puts.append({**row, WEEK_COLUMN: week, HASH_COLUMN: digest})
    plan.deletes = sorted(set(stored) - {row[POSITION] for row in rows})
    return plan


class ServingStoreError(Exception):
    """A write the serving store refused; the IO manager adds the playlist and the week."""


class ConcurrentWriteError(ServingStoreError, RuntimeError):
    """Other runs kept changing the same rows; the partition can simply be run again."""


class ServingStore(ABC):
    """A backend of the serving tables: it reads what is stored and writes only if that is still
    what was read. The rules live in the IO manager and the ``plan_*`` functions, not here."""

    @abstractmethod
    def stored_versions(self, table: str, keys: Iterable[str]) -> dict[str, StoredVersion]:
        """The stored version of each of these keys that exists."""

    @abstractmethod
    def put_entities(
        self, table: str, rows: list[dict], expected: Mapping[str, StoredVersion]
    ) -> set[str]:
        """Writes each row whose stored version is still ``expected`` (absent: still absent);
        returns the keys left unwritten because another writer changed them meanwhile."""

    @abstractmethod
    def playlist_version(self, playlist_id: str) -> StoredVersion | None:
        """The week and digest of the playlist's served entries, or None."""

    @abstractmethod
    def stored_entries(self, playlist_id: str) -> dict[int, str]:
        """The row hash of each served entry of the playlist, by position."""

    @abstractmethod
    def write_playlist_entries(
        self,
        playlist_id: str,
        puts: list[dict],
        deletes: list[int],
        version: StoredVersion,
        expected: StoredVersion | None,
        snapshot: Mapping[str, object],
    ) -> bool:
        """Writes ``puts``, deletes ``deletes`` and records ``version`` and the ``snapshot``
        columns, if the playlist's version is still ``expected``; returns False otherwise."""

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
                primary_key = f"{PLAYLIST_ID}, {POSITION}"
            else:
                primary_key = ENTITY_KEYS[table]
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {table} "
                f"({', '.join(columns)}, PRIMARY KEY ({primary_key}))"
            )
            # A store made before a column was added gets it, empty until its rows are rewritten.
            stored = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in stored:
                    connection.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS playlist_versions (playlist_id PRIMARY KEY, week, row_hash)"
        )
        return connection

    @contextmanager
    def _write_transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock before the reads, so the check and the write are atomic.
        with closing(self._connect()) as connection:
            connection.isolation_level = None
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @staticmethod
    def _versions(
        connection: sqlite3.Connection, table: str, keys: list[str]
    ) -> dict[str, StoredVersion]:
        key = ENTITY_KEYS[table]
        earliest = KEEP_EARLIEST.get(table, "NULL")
        versions = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = (
                f"SELECT {key}, {WEEK_COLUMN}, {HASH_COLUMN}, {earliest} FROM {table} "
                f"WHERE {key} IN ({', '.join('?' * len(chunk))})"
            )
            for row_key, week, digest, earliest_value in connection.execute(query, chunk):
                versions[row_key] = StoredVersion(week, digest, earliest_value)
        return versions

    def stored_versions(self, table: str, keys: Iterable[str]) -> dict[str, StoredVersion]:
        with closing(self._connect()) as connection:
            return self._versions(connection, table, list(keys))

    def put_entities(
        self, table: str, rows: list[dict], expected: Mapping[str, StoredVersion]
    ) -> set[str]:
        if not rows:
            return set()
        key = ENTITY_KEYS[table]
        columns = [*serving_schema(table).names, WEEK_COLUMN, HASH_COLUMN]
        with self._write_transaction() as connection:
            current = self._versions(connection, table, [row[key] for row in rows])
            conflicts = {
                row[key]
                for row in rows
                if not same_version(current.get(row[key]), expected.get(row[key]))
            }
            connection.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [[row[column] for column in columns] for row in rows if row[key] not in conflicts],
            )
        return conflicts

    def playlist_version(self, playlist_id: str) -> StoredVersion | None:
        with closing(self._connect()) as connection:
            return self._playlist_version(connection, playlist_id)

    @staticmethod
    def _playlist_version(connection: sqlite3.Connection, playlist_id: str):
        found = connection.execute(
            "SELECT week, row_hash FROM playlist_versions WHERE playlist_id = ?", [playlist_id]
        ).fetchone()
        return StoredVersion(*found) if found else None

    def stored_entries(self, playlist_id: str) -> dict[int, str]:
        with closing(self._connect()) as connection:
            found = connection.execute(
                f"SELECT {POSITION}, {HASH_COLUMN} FROM {constants.PLAYLIST_ENTRIES} "
                f"WHERE {PLAYLIST_ID} = ?",
                [playlist_id],
            )
            return dict(found.fetchall())

    def write_playlist_entries(
        self,
        playlist_id: str,
        puts: list[dict],
        deletes: list[int],
        version: StoredVersion,
        expected: StoredVersion | None,
        snapshot: Mapping[str, object],
    ) -> bool:
        table = constants.PLAYLIST_ENTRIES
        columns = [*serving_schema(table).names, WEEK_COLUMN, HASH_COLUMN]
        with self._write_transaction() as connection:
            if not same_version(self._playlist_version(connection, playlist_id), expected):
                return False
            connection.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [[row[column] for column in columns] for row in puts],
            )
            connection.executemany(
                f"DELETE FROM {table} WHERE {PLAYLIST_ID} = ? AND {POSITION} = ?",
                [[playlist_id, position] for position in deletes],
            )
            for column, value in snapshot.items():
                connection.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {PLAYLIST_ID} = ?", [value, playlist_id]
                )
            connection.execute(
                "INSERT OR REPLACE INTO playlist_versions VALUES (?, ?, ?)",
                [playlist_id, version.week, version.row_hash],
            )
        return True

    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        table_schema = serving_schema(table)
        query = f"SELECT {', '.join(table_schema.names)} FROM {table}"
        parameters: list = []
        if playlist_id is not None and table == constants.PLAYLIST_ENTRIES:
            query += f" WHERE {PLAYLIST_ID} = ?"
            parameters.append(playlist_id)
        if table == constants.PLAYLIST_ENTRIES:
            order = f"{PLAYLIST_ID}, {POSITION}"
        else:
            order = ENTITY_KEYS[table]
        with closing(self._connect()) as connection:
            records = connection.execute(f"{query} ORDER BY {order}", parameters).fetchall()
        return table_from_plain_rows(records, table_schema)


def newest_served_week(context: dg.OutputContext, playlist_id: str | None) -> str | None:
    """The newest week of this asset already materialized, for one playlist or (None) for any,
    from Dagster's log."""
    try:
        instance = context.step_context.instance
    except dg.DagsterInvariantViolationError:  # a context built by hand, outside a run
        return None
    weeks = [
        key.split("|")[1]  # multi-partition keys list their dimensions in name order
        for key in instance.get_materialized_partitions(context.asset_key)
        if playlist_id is None or key.split("|")[0] == playlist_id
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
        # Entities are shared by playlists: an unchanged row keeps the week that last changed
        # it, so only a week at least as new as any served one may write them.
        entries = table == constants.PLAYLIST_ENTRIES
        newest = newest_served_week(context, playlist_id if entries else None)
        if newest is not None and newest > week:
            served_for = "this playlist" if entries else "a playlist"
            summary = WriteSummary(
                rows_in=obj.num_rows,
                note=f"week {week} is older than week {newest}, already served for {served_for}: "
                "the lake was refreshed, the serving state was left as it is",
            )
        else:
            try:
                if entries:
                    summary = self._write_playlist_entries(playlist_id, week, plain_rows(obj))
                else:
                    summary = self._write_entities(table, week, plain_rows(obj))
            except ServingStoreError as error:
                where = f"playlist {playlist_id!r}, week {week}, serving/{table}"
                raise type(error)(f"{where}: {error}") from error
        context.add_output_metadata(summary.as_metadata())

    def _write_entities(self, table: str, week: str, rows: list[dict]) -> WriteSummary:
        key = ENTITY_KEYS[table]
        summary = WriteSummary(rows_in=len(rows))
        pending = rows
        for _ in range(MAX_WRITE_ROUNDS):
            stored = self.store.stored_versions(table, [row[key] for row in pending])
            to_write, planned = plan_entity_writes(table, pending, week, stored)
            conflicts = self.store.put_entities(table, to_write, stored)
            summary.unchanged += planned.unchanged
            summary.kept_newer += planned.kept_newer
            summary.written += planned.written - len(conflicts)
            if not conflicts:
                return summary
            pending = [row for row in pending if row[key] in conflicts]
        raise ConcurrentWriteError(
            f"{len(pending)} rows of {table} kept being changed by other runs while week {week} "
            f"wrote them ({MAX_WRITE_ROUNDS} attempts); run the partition again"
        )

    def _write_playlist_entries(self, playlist_id: str, week: str, rows: list[dict]):
        rows = [{PLAYLIST_ID: playlist_id, **row} for row in rows]
        digest = playlist_digest(rows)
        snapshot = {column: rows[0][column] for column in SNAPSHOT_COLUMNS} if rows else {}
        summary = WriteSummary(rows_in=len(rows))
        for _ in range(MAX_WRITE_ROUNDS):
            # The version is read before the entries: a writer that changes entries after this
            # read also changes the version, and the conditional write below then fails.
            stored = self.store.playlist_version(playlist_id)
            if stored is not None and stored.week > week:
                summary.kept_newer = len(rows)
                return summary
            if stored is not None and stored.row_hash == digest:
                summary.unchanged = len(rows)
                return summary
            plan = plan_playlist_entries(rows, week, self.store.stored_entries(playlist_id))
            version = StoredVersion(week, digest)
            if self.store.write_playlist_entries(
                playlist_id, plan.puts, plan.deletes, version, stored, snapshot
            ):
                summary.written, summary.unchanged = len(plan.puts), plan.unchanged
                summary.deleted = len(plan.deletes)
                return summary
        raise ConcurrentWriteError(
            f"the entries of playlist {playlist_id!r} kept being changed by other runs while "
            f"week {week} wrote them ({MAX_WRITE_ROUNDS} attempts); run the partition again"
        )

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
