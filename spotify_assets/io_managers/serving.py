"""The serving store: each entity's current attributes and each playlist's current snapshot.

**The rule** (the same for every backend, SQLite here, DynamoDB in aws): the serving store equals
what a build from scratch, in chronological order, from the lake would produce
(:func:`~spotify_assets.transforms.serving_state.chronological_build`), whatever order,
concurrency and repetition the partitions ran in:
- an entity row is the one from the newest week that holds its key; within a week, the playlist
  whose id sorts last wins;
- ``songs.song_added`` is the earliest ``song_added`` any served partition holds for the song,
  so correcting a week corrects it; an entity that no served partition holds any more leaves the
  store (once nothing served refers to it);
- a playlist's entries are those of its newest served week, and so is its row in ``playlists``
  (its name, owner, total, snapshot id...: a row only its own partitions hold, one each).

**How, from the store alone.** Each entity row carries its key's history: for each playlist,
the runs of its served weeks that held the key, and the rows they held (see
:mod:`~spotify_assets.transforms.serving_state`); each playlist has a record of the weeks it has
served, per table. A partition updates the histories of the keys it holds and of those its
playlist held before, and recomputes a row only from its history. Nothing comes from Dagster's
event log: wiping ``DAGSTER_HOME`` changes nothing, and wiping the store is repaired by
``spotify-assets serving rebuild``.

**Costs.** A re-run of an unchanged partition writes nothing; a new week writes the rows whose
history or attributes changed (a key that stays in a playlist with the same attributes is not
rewritten) and the entries that changed: an insertion, a removal or a move is one entry write,
whatever its position (entries carry an order key, position is derived when reading).

A playlist's row needs no history: its playlist's record keeps the weeks served (with the
digest of each week's row), and the row is rewritten only by the newest of them, when it
differs from the served one; the row and the record are written in one transaction.

**Concurrency and what a reader sees.** Writers of one entity table take turns (SQLite's write
lock; a lease in DynamoDB, which every write of the playlist's record checks), so histories never
lose a week; readers never wait. A playlist's new snapshot is published at once: on SQLite in one
transaction, on DynamoDB in one transaction when it changes at most 98 entries, otherwise staged
as invisible versions and switched by the playlist's version item. A reader reads the version,
the entries, then the version again, and tries again if it moved: it gets the old snapshot or
the new one, never a mix. The entities a snapshot refers to are written before it (the serving
assets run artists, albums, songs, playlists, then entries) and removed only after nothing
served refers to them, so every reference a reader follows resolves. A playlist's row is written
just before its entries: a reader sees a snapshot's name and total no later than its entries
(for a moment, the new row beside the old entries; the row's ``snapshot_id`` says which).
"""

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.grouped_runs import (
    add_partition_metadata,
    io_partition_keys,
    output_partitions,
    week_and_playlist_of,
)
from spotify_assets.transforms import schema
from spotify_assets.transforms.serving_state import (
    ENTITY_KEYS,
    PLAYLIST_ID,
    POSITION,
    SNAPSHOT_COLUMNS,
    Contribution,
    EntriesPlan,
    ServingState,
    StoredEntry,
    digest,
    plan_entries,
    playlist_row,
    row_digest,
    served_row,
    split_snapshot,
    with_week,
)

HASH_COLUMN = "row_hash"
HISTORY_COLUMN = "history"
ENTRY_ID = "entry_id"
ORDER_KEY = "order_key"
# The order a partition's serving tables are written in: what a row refers to comes first, and
# a playlist's own row (name, total, snapshot id) just before the entries it describes.
SERVING_ORDER = (
    constants.ARTISTS,
    constants.ALBUMS,
    constants.SONGS,
    constants.PLAYLISTS,
    constants.PLAYLIST_ENTRIES,
)
# Entity rows refer to each other: a key is removed only when no row of these refers to it.
REFERENCED_BY = {
    constants.SONGS: [(constants.PLAYLIST_ENTRIES, "song_id")],
    constants.ALBUMS: [(constants.SONGS, "album_id")],
    constants.ARTISTS: [(constants.SONGS, "artist_id"), (constants.ALBUMS, "artist_id")],
}


def serving_schema(table: str) -> pa.Schema:
    """The columns a serving table returns: the lake's, with playlist_id first for entries and
    playlists (in the lake, it is the folder ``playlist=...``)."""
    lake_schema = schema.TABLE_SCHEMAS[table]
    if table in (constants.PLAYLIST_ENTRIES, constants.PLAYLISTS):
        return pa.schema([pa.field(PLAYLIST_ID, pa.string(), nullable=False), *lake_schema])
    return lake_schema


def entry_columns() -> list[str]:
    """The columns an entry keeps in the store: all but its position and the snapshot's."""
    return [
        name
        for name in schema.TABLE_SCHEMAS[constants.PLAYLIST_ENTRIES].names
        if name != POSITION and name not in SNAPSHOT_COLUMNS
    ]


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


# --- what a store holds ---------------------------------------------------------------------


@dataclass
class PlaylistRecord:
    """A playlist's bookkeeping: the weeks each table has served (week -> digest of what it
    held), the served snapshot's week, version, digest and snapshot columns, and the keys left
    without history, waiting until nothing refers to them to be removed."""

    playlist_id: str
    weeks: dict[str, dict[str, str]] = field(default_factory=dict)
    week: str | None = None
    version: int = 0
    entries_digest: str | None = None
    snapshot: dict = field(default_factory=dict)
    orphans: dict[str, list[str]] = field(default_factory=dict)

    def served_weeks(self, table: str) -> list[str]:
        return sorted(self.weeks.get(table, {}))

    def to_json(self) -> str:
        return json.dumps(
            {
                "weeks": self.weeks,
                "week": self.week,
                "version": self.version,
                "entries_digest": self.entries_digest,
                "snapshot": self.snapshot,
                "orphans": self.orphans,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, playlist_id: str, text: str | None) -> "PlaylistRecord":
        return cls(playlist_id, **json.loads(text)) if text else cls(playlist_id)


SAME_AS_SERVED = "="


@dataclass
class EntityItem:
    """An entity row as stored: the served row (None: not served), its digest, and the key's
    history: each playlist's runs and the rows they name."""

    key: str
    row: dict | None = None
    row_hash: str | None = None
    runs: dict[str, list] = field(default_factory=dict)  # playlist -> [[first, last, digest]]
    rows: dict[str, dict] = field(default_factory=dict)  # digest -> row
    revision: str | None = None  # a store's marker for conditional writes

    def history_json(self) -> str:
        # The served row is usually one of the history's: kept once, as SAME_AS_SERVED.
        rows = {
            name: SAME_AS_SERVED if name == self.row_hash else row
            for name, row in self.rows.items()
        }
        return json.dumps({"runs": self.runs, "rows": rows}, sort_keys=True)

    def load_history(self, text: str | None) -> "EntityItem":
        history = json.loads(text) if text else {"runs": {}, "rows": {}}
        self.runs = history["runs"]
        self.rows = {
            name: dict(self.row) if row == SAME_AS_SERVED else row
            for name, row in history["rows"].items()
        }
        return self


class ServingStoreError(Exception):
    """A write the serving store refused; the IO manager adds the playlist and the week."""


class ConcurrentWriteError(ServingStoreError, RuntimeError):
    """Another writer held or changed what this one needed; the partition can be run again."""


class ServingStore(ABC):
    """A backend of the serving tables: storage primitives only; the rules live in
    :class:`ServingWriter`."""

    @abstractmethod
    def exclusive(self, name: str):
        """A context in which this writer alone writes ``name`` (an entity table, or a
        playlist's entries); re-entrant."""

    @abstractmethod
    def playlist_record(self, playlist_id: str) -> PlaylistRecord: ...

    @abstractmethod
    def save_table_record(self, record: PlaylistRecord, table: str) -> None:
        """Writes the record's weeks and orphans of one table, and nothing else of it."""

    @abstractmethod
    def entity_items(self, table: str, keys: Iterable[str]) -> dict[str, EntityItem]:
        """The stored items of these keys (with their history) that exist."""

    @abstractmethod
    def playlist_keys(self, table: str, playlist_id: str) -> dict[str, bool]:
        """The keys whose history holds this playlist, each with whether its last run of the
        playlist is open (reaches the playlist's newest served week)."""

    @abstractmethod
    def write_entity_items(
        self,
        table: str,
        playlist_id: str,
        items: Sequence[EntityItem],
        deletes: Sequence[EntityItem],
        keys_indexed: Mapping[str, bool],
        keys_dropped: set[str],
    ) -> None:
        """Writes items (row and history) and deletes others, each only if unchanged since it
        was read (else ConcurrentWriteError), and records which keys' history now holds the
        playlist, with whether its last run is open (``keys_indexed``), or no longer does
        (``keys_dropped``).

        An index entry may say open or held when it no longer is (it only costs a read), never
        the reverse, or the next week would not see a run it must close: an entry that closes
        or drops is written after the items."""

    @abstractmethod
    def referenced(self, table: str, keys: Iterable[str]) -> set[str]:
        """The keys that a served row of another table refers to (see REFERENCED_BY)."""

    @abstractmethod
    def stored_entries(self, playlist_id: str, version: int) -> list[StoredEntry]:
        """The playlist's entries at ``version``, in order."""

    @abstractmethod
    def publish_entries(
        self, record: PlaylistRecord, plan: EntriesPlan, previous_version: int
    ) -> None:
        """Applies the plan and makes ``record`` (its week, version, digest and snapshot) the
        served one, atomically for readers."""

    @abstractmethod
    def playlist_row_hash(self, playlist_id: str) -> str | None:
        """The digest of the playlist's served row in ``playlists``; None: it has none."""

    @abstractmethod
    def save_playlist_row(
        self, record: PlaylistRecord, row: dict | None, row_hash: str | None
    ) -> None:
        """Writes the record's weeks of ``playlists`` and, unless ``row`` is None, the playlist's
        row with its digest, in one transaction (and only while this writer holds its leases)."""

    @abstractmethod
    def served_playlists(self) -> list[str]:
        """The playlists whose snapshot is served, emptied ones included."""

    @abstractmethod
    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        """A serving table as readers see it (entries with their positions)."""

    @abstractmethod
    def clear(self) -> None:
        """Empties every serving table (for a rebuild)."""


# --- SQLite ---------------------------------------------------------------------------------

# PRAGMA user_version of a store in this module's layout. 3 added the playlists table: a store of
# layout 2 gets it, empty (its playlists are served as their weeks run again, or at once by
# `spotify-assets serving rebuild`). 4 added playlist_keys.open; older entries read as open.
LAYOUT_VERSION = 4


def rows_where_in(
    connection: sqlite3.Connection, select: str, column: str, values: Sequence[str]
) -> Iterator[tuple]:
    """The rows of ``select`` whose ``column`` is one of ``values``, 500 values a query (SQLite
    limits a statement's parameters)."""
    for start in range(0, len(values), 500):
        chunk = values[start : start + 500]
        yield from connection.execute(
            f"{select} WHERE {column} IN ({', '.join('?' * len(chunk))})", chunk
        )


class SQLiteServingStore(ServingStore):
    """The serving tables in one SQLite file. A write holds the file's write lock from its first
    read to its commit, so it is one transaction; readers see the last commit.

    The file uses a rollback journal, not WAL: a reader needs nothing but read access to the
    file, so it can open it from a read-only folder or as another user."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return getattr(self._local, "connection", None)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        connection.execute("PRAGMA journal_mode=DELETE")
        # Changes stay in memory until the commit: a writer killed mid-transaction leaves no hot
        # journal, which a read-only reader could not roll back.
        connection.execute("PRAGMA cache_spill=OFF")
        if connection.execute("PRAGMA user_version").fetchone()[0] == LAYOUT_VERSION:
            return connection
        # Under the write lock, read again: another connection may be creating the tables.
        connection.execute("BEGIN IMMEDIATE")
        layout = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if layout == 0 and tables & {*constants.SERVING_TABLES, "playlist_versions"}:
            connection.execute("ROLLBACK")
            connection.close()
            raise ServingStoreError(
                f"{self.path} holds the serving tables of an older version of spotify_assets; "
                "rebuild them from the lake: `spotify-assets serving rebuild`"
            )
        if layout != LAYOUT_VERSION:
            self._create_tables(connection)
        connection.execute("COMMIT")
        return connection

    @staticmethod
    def _create_tables(connection: sqlite3.Connection) -> None:
        """Creates what is missing of this layout, inside the caller's transaction."""
        statements = []
        for table, key in ENTITY_KEYS.items():
            columns = [*serving_schema(table).names, HASH_COLUMN, HISTORY_COLUMN]
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)}, PRIMARY KEY ({key}))"
            )
        for table, column in (
            (constants.SONGS, "album_id"),
            (constants.SONGS, "artist_id"),
            (constants.ALBUMS, "artist_id"),
        ):
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {table}_by_{column} ON {table} ({column})"
            )
        playlists = [*serving_schema(constants.PLAYLISTS).names, HASH_COLUMN]
        entries = [PLAYLIST_ID, ENTRY_ID, ORDER_KEY, *entry_columns(), HASH_COLUMN]
        statements += [
            f"CREATE TABLE IF NOT EXISTS {constants.PLAYLISTS} ({', '.join(playlists)}, "
            f"PRIMARY KEY ({PLAYLIST_ID}))",
            f"CREATE TABLE IF NOT EXISTS {constants.PLAYLIST_ENTRIES} ({', '.join(entries)}, "
            f"PRIMARY KEY ({PLAYLIST_ID}, {ENTRY_ID}))",
            f"CREATE UNIQUE INDEX IF NOT EXISTS entries_in_order ON {constants.PLAYLIST_ENTRIES} "
            f"({PLAYLIST_ID}, {ORDER_KEY})",
            f"CREATE INDEX IF NOT EXISTS entries_by_song ON {constants.PLAYLIST_ENTRIES} (song_id)",
            "CREATE TABLE IF NOT EXISTS playlist_versions "
            "(playlist_id PRIMARY KEY, week, version, snapshot_id, record)",
            "CREATE TABLE IF NOT EXISTS playlist_keys "
            "(playlist_id, entity_table, entity_key, open DEFAULT 1, "
            "PRIMARY KEY (playlist_id, entity_table, entity_key))",
            f"PRAGMA user_version = {LAYOUT_VERSION}",
        ]
        for statement in statements:
            connection.execute(statement)
        if "open" not in {row[1] for row in connection.execute("PRAGMA table_info(playlist_keys)")}:
            connection.execute("ALTER TABLE playlist_keys ADD COLUMN open DEFAULT 1")

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        if self._connection is not None:  # already inside this thread's transaction
            yield
            return
        connection = self._connect()
        self._local.connection = connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        finally:
            self._local.connection = None
            connection.close()

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        if self._connection is not None:
            yield self._connection
        else:
            with closing(self._connect()) as connection:
                yield connection

    def playlist_record(self, playlist_id: str) -> PlaylistRecord:
        with self._use() as connection:
            found = connection.execute(
                "SELECT record FROM playlist_versions WHERE playlist_id = ?", [playlist_id]
            ).fetchone()
        return PlaylistRecord.from_json(playlist_id, found[0] if found else None)

    def save_table_record(self, record: PlaylistRecord, table: str) -> None:
        with self.exclusive(table), self._use() as connection:
            stored = self.playlist_record(record.playlist_id)
            stored.weeks[table] = record.weeks.get(table, {})
            stored.orphans[table] = record.orphans.get(table, [])
            connection.execute(
                "INSERT INTO playlist_versions (playlist_id, version, record) VALUES (?, 0, ?) "
                "ON CONFLICT (playlist_id) DO UPDATE SET record = excluded.record",
                [record.playlist_id, stored.to_json()],
            )

    def entity_items(self, table: str, keys: Iterable[str]) -> dict[str, EntityItem]:
        key_column = ENTITY_KEYS[table]
        columns = serving_schema(table).names
        booleans = [f.name for f in serving_schema(table) if pa.types.is_boolean(f.type)]
        wanted = list(dict.fromkeys(keys))
        items = {}
        select = f"SELECT {', '.join(columns)}, {HASH_COLUMN}, {HISTORY_COLUMN} FROM {table}"
        with self._use() as connection:
            for *values, row_hash, history in rows_where_in(connection, select, key_column, wanted):
                row = dict(zip(columns, values, strict=True))
                for column in booleans:  # SQLite keeps them as 0 and 1
                    if row[column] is not None:
                        row[column] = bool(row[column])
                item = EntityItem(row[key_column], row, row_hash).load_history(history)
                items[item.key] = item
        return items

    def playlist_keys(self, table: str, playlist_id: str) -> dict[str, bool]:
        with self._use() as connection:
            found = connection.execute(
                "SELECT entity_key, open FROM playlist_keys "
                "WHERE playlist_id = ? AND entity_table = ?",
                [playlist_id, table],
            )
            return {key: bool(is_open) for key, is_open in found}

    def write_entity_items(self, table, playlist_id, items, deletes, keys_indexed, keys_dropped):
        columns = [*serving_schema(table).names, HASH_COLUMN, HISTORY_COLUMN]
        with self.exclusive(table), self._use() as connection:
            connection.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [
                    [*(item.row.get(c) for c in columns[:-2]), item.row_hash, item.history_json()]
                    for item in items
                ],
            )
            connection.executemany(
                f"DELETE FROM {table} WHERE {ENTITY_KEYS[table]} = ?",
                [[item.key] for item in deletes],
            )
            connection.executemany(
                "INSERT OR REPLACE INTO playlist_keys VALUES (?, ?, ?, ?)",
                [[playlist_id, table, key, is_open] for key, is_open in keys_indexed.items()],
            )
            connection.executemany(
                "DELETE FROM playlist_keys "
                "WHERE playlist_id = ? AND entity_table = ? AND entity_key = ?",
                [[playlist_id, table, key] for key in keys_dropped],
            )

    def referenced(self, table: str, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        with self._use() as connection:
            for other, column in REFERENCED_BY[table]:
                select = f"SELECT DISTINCT {column} FROM {other}"
                found |= {row[0] for row in rows_where_in(connection, select, column, wanted)}
        return found

    def stored_entries(self, playlist_id: str, version: int) -> list[StoredEntry]:
        columns = entry_columns()
        with self._use() as connection:
            found = connection.execute(
                f"SELECT {ENTRY_ID}, {ORDER_KEY}, {', '.join(columns)} "
                f"FROM {constants.PLAYLIST_ENTRIES} WHERE {PLAYLIST_ID} = ? ORDER BY {ORDER_KEY}",
                [playlist_id],
            )
            return [
                StoredEntry(entry_id, order_key, dict(zip(columns, values, strict=True)))
                for entry_id, order_key, *values in found
            ]

    def publish_entries(self, record, plan, previous_version):
        table = constants.PLAYLIST_ENTRIES
        columns = [PLAYLIST_ID, ENTRY_ID, ORDER_KEY, *entry_columns(), HASH_COLUMN]
        with self.exclusive(table), self._use() as connection:
            stored = connection.execute(
                "SELECT version FROM playlist_versions WHERE playlist_id = ?",
                [record.playlist_id],
            ).fetchone()
            if (stored[0] if stored else 0) != previous_version:
                raise ConcurrentWriteError(f"playlist {record.playlist_id} changed meanwhile")
            # Deletions and moves first: an order key may pass from one entry to another.
            connection.executemany(
                f"DELETE FROM {table} WHERE {PLAYLIST_ID} = ? AND {ENTRY_ID} = ?",
                [[record.playlist_id, e.entry_id] for e in [*plan.deletes, *plan.updates]],
            )
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [
                    [
                        record.playlist_id,
                        entry.entry_id,
                        entry.order_key,
                        *(entry.row[c] for c in entry_columns()),
                        row_digest(entry.row),
                    ]
                    for entry in [*plan.updates, *plan.puts]
                ],
            )
            connection.execute(
                "INSERT INTO playlist_versions (playlist_id, week, version, snapshot_id, record) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (playlist_id) DO UPDATE SET "
                "week = excluded.week, version = excluded.version, "
                "snapshot_id = excluded.snapshot_id, record = excluded.record",
                [
                    record.playlist_id,
                    record.week,
                    record.version,
                    record.snapshot.get("snapshot_id"),
                    record.to_json(),
                ],
            )

    def playlist_row_hash(self, playlist_id: str) -> str | None:
        with self._use() as connection:
            found = connection.execute(
                f"SELECT {HASH_COLUMN} FROM {constants.PLAYLISTS} WHERE {PLAYLIST_ID} = ?",
                [playlist_id],
            ).fetchone()
        return found[0] if found else None

    def save_playlist_row(self, record, row, row_hash):
        columns = [*serving_schema(constants.PLAYLISTS).names, HASH_COLUMN]
        with self.exclusive(constants.PLAYLISTS), self._use() as connection:
            if row is not None:
                connection.execute(
                    f"INSERT OR REPLACE INTO {constants.PLAYLISTS} ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    [*(row.get(c) for c in columns[:-1]), row_hash],
                )
            self.save_table_record(record, constants.PLAYLISTS)

    def read_table(self, table: str, playlist_id: str | None = None) -> pa.Table:
        table_schema = serving_schema(table)
        with self._use() as connection:
            if table == constants.PLAYLISTS:
                where, parameters = (
                    (f"WHERE {PLAYLIST_ID} = ?", [playlist_id]) if playlist_id else ("", [])
                )
                records = connection.execute(
                    f"SELECT {', '.join(table_schema.names)} FROM {table} {where} "
                    f"ORDER BY {PLAYLIST_ID}",
                    parameters,
                ).fetchall()
                return table_from_plain_rows(records, table_schema)
            if table != constants.PLAYLIST_ENTRIES:
                records = connection.execute(
                    f"SELECT {', '.join(table_schema.names)} FROM {table} "
                    f"ORDER BY {ENTITY_KEYS[table]}"
                ).fetchall()
                return table_from_plain_rows(records, table_schema)
            where, parameters = (
                ("WHERE e.playlist_id = ?", [playlist_id]) if playlist_id else ("", [])
            )
            records = connection.execute(
                f"SELECT e.playlist_id, ROW_NUMBER() OVER (PARTITION BY e.playlist_id "
                f"ORDER BY e.{ORDER_KEY}) - 1, {', '.join('e.' + c for c in entry_columns())}, "
                f"v.snapshot_id FROM {table} e JOIN playlist_versions v USING (playlist_id) "
                f"{where} ORDER BY e.playlist_id, e.{ORDER_KEY}",
                parameters,
            ).fetchall()
        names = [PLAYLIST_ID, POSITION, *entry_columns(), *SNAPSHOT_COLUMNS]
        order = [names.index(name) for name in table_schema.names]
        return table_from_plain_rows([[r[i] for i in order] for r in records], table_schema)

    def served_playlists(self) -> list[str]:
        with self._use() as connection:
            found = connection.execute(
                "SELECT playlist_id FROM playlist_versions WHERE week IS NOT NULL "
                "ORDER BY playlist_id"
            )
            return [row[0] for row in found]

    def clear(self) -> None:
        with self.exclusive("all"), self._use() as connection:
            for table in [*constants.SERVING_TABLES, "playlist_versions", "playlist_keys"]:
                connection.execute(f"DELETE FROM {table}")


# --- the rules ------------------------------------------------------------------------------


@dataclass
class WriteSummary:
    """What one partition did to the serving store; becomes the materialization's metadata."""

    rows_in: int = 0
    written: int = 0
    unchanged: int = 0
    deleted: int = 0
    note: str = ""

    def as_metadata(self) -> dict:
        metadata = {
            "rows_in": self.rows_in,
            "rows_written": self.written,
            "rows_unchanged": self.unchanged,
            "rows_deleted": self.deleted,
        }
        if self.note:
            metadata["note"] = self.note
        return metadata


class ServingWriter:
    """Applies one partition's rows to a store by the rules in this module's docstring."""

    def __init__(self, store: ServingStore):
        self.store = store

    def write(self, table: str, playlist_id: str, week: str, rows: list[dict]) -> WriteSummary:
        """Serves one partition's rows of one table (plain values, see :func:`plain_rows`)."""
        try:
            if table == constants.PLAYLIST_ENTRIES:
                return self.write_entries(playlist_id, week, rows)
            if table == constants.PLAYLISTS:
                return self.write_playlist(playlist_id, week, rows)
            return self.write_entities(table, playlist_id, week, rows)
        except ServingStoreError as error:
            where = f"playlist {playlist_id!r}, week {week}, serving/{table}"
            raise type(error)(f"{where}: {error}") from error

    def write_entities(
        self, table: str, playlist_id: str, week: str, rows: list[dict]
    ) -> WriteSummary:
        key_column = ENTITY_KEYS[table]
        held = {row[key_column]: row for row in rows}
        held_digests = {key: row_digest(row) for key, row in held.items()}
        week_digest = digest(sorted(held_digests.items()))
        summary = WriteSummary(rows_in=len(rows), unchanged=len(rows))
        if self.store.playlist_record(playlist_id).weeks.get(table, {}).get(week) == week_digest:
            return summary  # a re-run: not even the lease is written
        summary.unchanged = 0
        with self.store.exclusive(table):
            record = self.store.playlist_record(playlist_id)
            if record.weeks.get(table, {}).get(week) == week_digest:
                summary.unchanged = len(rows)
                return summary
            old_weeks = record.served_weeks(table)
            new_weeks = sorted({*old_weeks, week})
            served_weeks = {playlist_id: new_weeks}
            indexed = self.store.playlist_keys(table, playlist_id)
            # A week newer than every served one changes only the runs of the keys it holds and
            # of those whose last run is open (it ends or goes on): every other run ends before
            # it. Any other week may change any run of the playlist.
            if not old_weeks or week > old_weeks[-1]:
                keys = set(held) | {key for key, is_open in indexed.items() if is_open}
            else:
                keys = set(held) | set(indexed)
            items = self.store.entity_items(table, keys)
            changed, emptied, reindexed, dropped = [], [], {}, set()
            for key in sorted(keys):
                item = items.get(key) or EntityItem(key)
                old_runs = [tuple(run) for run in item.runs.get(playlist_id, [])]
                new_runs, _ = with_week(old_runs, old_weeks, week, held_digests.get(key))
                history_changed = new_runs != old_runs
                if history_changed:
                    set_runs(item, playlist_id, new_runs, held.get(key))
                # Against the index as read, not the history: a run killed between the two
                # writes is mended by its re-run.
                is_open = bool(new_runs) and new_runs[-1][1] is None
                if new_runs and indexed.get(key) != is_open:
                    reindexed[key] = is_open
                if not new_runs and key in indexed:
                    dropped.add(key)
                for other in item.runs:
                    if other not in served_weeks:
                        served_weeks[other] = self.store.playlist_record(other).served_weeks(table)
                row = served_row(
                    table,
                    {
                        other: Contribution(
                            tuple(map(tuple, runs)), item.rows, tuple(served_weeks[other])
                        )
                        for other, runs in item.runs.items()
                    },
                )
                if row is None:
                    emptied.append(item)
                elif history_changed or row_digest(row) != item.row_hash:
                    item.row, item.row_hash = row, row_digest(row)
                    changed.append(item)
                elif key in held:
                    summary.unchanged += 1
            # An entity no partition holds any more leaves once nothing served refers to it;
            # until then it keeps its row, and the playlist's entries step looks at it again.
            referenced = self.store.referenced(table, [item.key for item in emptied])
            deletes = [item for item in emptied if item.key not in referenced]
            kept = [item for item in emptied if item.key in referenced]
            self.store.write_entity_items(
                table, playlist_id, [*changed, *kept], deletes, reindexed, dropped
            )
            record = self.store.playlist_record(playlist_id)
            record.weeks.setdefault(table, {})[week] = week_digest
            orphans = set(record.orphans.get(table, [])) - {item.key for item in deletes}
            record.orphans[table] = sorted(orphans | {item.key for item in kept})
            self.store.save_table_record(record, table)
        summary.written, summary.deleted = len(changed), len(deletes)
        return summary

    def write_entries(self, playlist_id: str, week: str, rows: list[dict]) -> WriteSummary:
        table = constants.PLAYLIST_ENTRIES
        entries, snapshot = split_snapshot(rows)
        entries_digest = digest((entries, sorted(snapshot.items())))
        summary = WriteSummary(rows_in=len(rows))
        if self._entries_unchanged(self.store.playlist_record(playlist_id), week, entries_digest):
            summary.unchanged = len(rows)
            # A re-run writes nothing, not even a lease; it finishes a run killed after publishing.
            summary.deleted = self.remove_orphans(playlist_id)
            return summary
        with self.store.exclusive(f"{table}/{playlist_id}"):
            record = self.store.playlist_record(playlist_id)
            newest = max([week, *record.weeks.get(table, {})])
            current = record.week == week and record.entries_digest == entries_digest
            if self._entries_unchanged(record, week, entries_digest):
                summary.unchanged = len(rows)
            elif week != newest or current:
                record.weeks.setdefault(table, {})[week] = entries_digest
                self.store.save_table_record(record, table)
                summary.note = f"week {week} is not the newest served ({newest}): the lake keeps it"
                summary.unchanged = len(rows)
            else:
                plan = plan_entries(self.store.stored_entries(playlist_id, record.version), entries)
                previous_version = record.version
                record.weeks.setdefault(table, {})[week] = entries_digest
                record.week, record.version = week, previous_version + 1
                record.entries_digest, record.snapshot = entries_digest, snapshot
                self.store.publish_entries(record, plan, previous_version)
                summary.written, summary.deleted = (
                    len(plan.puts) + len(plan.updates),
                    len(plan.deletes),
                )
                summary.unchanged = plan.unchanged
                if plan.rebalanced:
                    summary.note = "every order key was given anew (one had grown too long)"
        summary.deleted += self.remove_orphans(playlist_id)
        return summary

    def write_playlist(self, playlist_id: str, week: str, rows: list[dict]) -> WriteSummary:
        """Serves the playlist's row of ``week`` if it is the newest week served."""
        table = constants.PLAYLISTS
        try:
            row = playlist_row(playlist_id, rows)
        except ValueError as error:
            raise ServingStoreError(str(error)) from None
        row_hash = row_digest(row)
        summary = WriteSummary(rows_in=len(rows), unchanged=len(rows))
        record = self.store.playlist_record(playlist_id)
        if record.weeks.get(table, {}).get(week) == row_hash and (
            week != max(record.weeks[table])
            or self.store.playlist_row_hash(playlist_id) == row_hash
        ):
            return summary  # a re-run: not even the lease is written
        with self.store.exclusive(f"{table}/{playlist_id}"):
            record = self.store.playlist_record(playlist_id)
            weeks = record.weeks.setdefault(table, {})
            newest = max([week, *weeks])
            weeks[week] = row_hash
            if week != newest:
                summary.note = f"week {week} is not the newest served ({newest}): the lake keeps it"
                self.store.save_playlist_row(record, None, None)
            elif self.store.playlist_row_hash(playlist_id) == row_hash:
                self.store.save_playlist_row(record, None, None)
            else:
                self.store.save_playlist_row(record, row, row_hash)
                summary.written, summary.unchanged = 1, 0
        return summary

    @staticmethod
    def _entries_unchanged(record: PlaylistRecord, week: str, entries_digest: str) -> bool:
        """Whether the record already holds this week's entries: served if it is the newest."""
        table = constants.PLAYLIST_ENTRIES
        if record.weeks.get(table, {}).get(week) != entries_digest:
            return False
        newest = max(record.weeks[table])
        return week != newest or (record.week == week and record.entries_digest == entries_digest)

    def _orphans_to_remove(self, playlist_id: str, table: str) -> bool:
        """Whether the playlist's orphans of a table changed: one left, or one to delete."""
        orphans = self.store.playlist_record(playlist_id).orphans.get(table, [])
        if not orphans:
            return False
        items = self.store.entity_items(table, orphans)
        empty = [item.key for item in items.values() if not item.runs]
        return sorted(self.store.referenced(table, empty)) != orphans

    def remove_orphans(self, playlist_id: str) -> int:
        """Removes the entities this playlist left without history once nothing served refers
        to them: songs first, whose removal may free albums and artists."""
        removed = 0
        for table in (constants.SONGS, constants.ALBUMS, constants.ARTISTS):
            if not self._orphans_to_remove(playlist_id, table):
                continue  # nothing to do: no lease taken, nothing written
            with self.store.exclusive(table):
                record = self.store.playlist_record(playlist_id)
                orphans = record.orphans.get(table, [])
                if not orphans:
                    continue
                items = self.store.entity_items(table, orphans)
                empty = [item for item in items.values() if not item.runs]
                referenced = self.store.referenced(table, [item.key for item in empty])
                deletes = [item for item in empty if item.key not in referenced]
                still = sorted(item.key for item in empty if item.key in referenced)
                if deletes:
                    self.store.write_entity_items(table, playlist_id, [], deletes, {}, set())
                if still != orphans:
                    record.orphans[table] = still
                    self.store.save_table_record(record, table)
                removed += len(deletes)
        return removed


def set_runs(item: EntityItem, playlist_id: str, runs: list, row: dict | None) -> None:
    """Gives the item a playlist's new runs, keeping only the rows some run names."""
    if runs:
        item.runs[playlist_id] = [list(run) for run in runs]
    else:
        item.runs.pop(playlist_id, None)
    if row is not None:
        item.rows[row_digest(row)] = row
    named = {run[2] for playlist_runs in item.runs.values() for run in playlist_runs}
    item.rows = {name: row for name, row in item.rows.items() if name in named}


def store_state(store: ServingStore) -> ServingState:
    """What a store serves, in the terms of :func:`chronological_build`."""
    state = ServingState()
    for table, key in ENTITY_KEYS.items():
        state.entities[table] = {row[key]: row for row in plain_rows(store.read_table(table))}
    by_playlist: dict[str, list[dict]] = {}
    for row in plain_rows(store.read_table(constants.PLAYLIST_ENTRIES)):
        by_playlist.setdefault(row.pop(PLAYLIST_ID), []).append(row)
    for playlist_id in store.served_playlists():  # an emptied playlist has no entry rows
        record = store.playlist_record(playlist_id)
        entries, _ = split_snapshot(by_playlist.get(playlist_id, []))
        state.entries[playlist_id] = (record.week, entries, record.snapshot)
    rows = plain_rows(store.read_table(constants.PLAYLISTS))
    state.playlists = {row[PLAYLIST_ID]: row for row in rows}
    return state


class ServingIOManager(dg.IOManager):
    """Writes the serving tables by the rules of :mod:`spotify_assets.io_managers.serving`;
    loads current state: the whole table for artists, albums and songs, the playlist's current
    entries for ``playlist_entries``."""

    def __init__(self, store: ServingStore):
        self.store = store
        self.writer = ServingWriter(store)

    def handle_output(self, context: dg.OutputContext, obj: pa.Table | dict[str, pa.Table]) -> None:
        """Serves each partition of the output (one table, or a dict of them keyed by partition
        key: see :mod:`spotify_assets.grouped_runs`), each playlist's weeks oldest first."""
        for partition_key, table in output_partitions(context, obj):
            week, playlist_id = week_and_playlist_of(partition_key)
            summary = self.writer.write(
                context.asset_key.path[-1], playlist_id, week, plain_rows(table)
            )
            add_partition_metadata(context, partition_key, summary.as_metadata())

    def load_input(self, context: dg.InputContext) -> pa.Table | dict[str, pa.Table]:
        """The current table; of a partitioned input, the current state of each partition's
        playlist (a dict keyed by partition key when there are several)."""
        table = context.asset_key.path[-1]
        if not context.has_asset_partitions:
            return self.store.read_table(table)
        current = {
            partition_key: self.store.read_table(table, week_and_playlist_of(partition_key)[1])
            for partition_key in io_partition_keys(context)
        }
        return next(iter(current.values())) if len(current) == 1 else current


class SQLiteServingIOManager(dg.ConfigurableIOManagerFactory):
    """The serving tables in one SQLite file (local deployment)."""

    database_path: str

    def create_io_manager(self, context) -> ServingIOManager:
        return ServingIOManager(SQLiteServingStore(self.database_path))
