"""The lake in DuckDB: the normalized tables as views over their Parquet files, then the views.

The tables get the Glue tables' names, so the view files read the same names on both engines.
``read_parquet`` lives here, never in a view file: Athena has no such function.

Over the whole lake a table is every file its folder holds (a glob, listed at each query); over
some of its partitions (:class:`~spotify_assets.sql.catalog.Partitions`) it is the files of those
partitions, by name, so that the cost of a query follows what it reads, not the lake's size.
"""

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.sql import catalog
from spotify_assets.sql.result import QueryResult
from spotify_assets.transforms import schema

# The partition columns come from the folder names. `week` is a DATE, as Athena's partition
# projection types it, so a filter on a view's week prunes files here too. The tests also
# run every view with WEEK_AS_TEXT (the folder's own string, as a Glue table declaring it a
# string would give): a view that forgets a cast fails there.
PARTITION_TYPES = {constants.WEEK: "DATE", constants.PLAYLIST: "VARCHAR"}
WEEK_AS_TEXT = {constants.WEEK: "VARCHAR", constants.PLAYLIST: "VARCHAR"}

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    schema.TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
}


def table_glob(data_dir: Path, table: str) -> str:
    """Every partition file of a normalized table: ``<dir>/normalized/<table>/*/*/*.parquet``."""
    return str(Path(data_dir) / constants.NORMALIZED / table / "*" / "*" / "*.parquet")


def _has_files(data_dir: Path, table: str) -> bool:
    folder = Path(data_dir) / constants.NORMALIZED / table
    return folder.is_dir() and any(folder.glob("*/*/*.parquet"))


def partition_file(data_dir: Path, table: str, week: str, playlist: str) -> Path:
    """The file of one partition of a normalized table, where the object store writes it."""
    folder = Path(data_dir) / constants.NORMALIZED / table
    return (
        folder
        / f"{constants.WEEK}={week}"
        / f"{constants.PLAYLIST}={playlist}"
        / f"{table}.parquet"
    )


def partition_files(data_dir: Path, table: str, partitions: catalog.Partitions) -> list[Path]:
    """The files of these partitions of a table that exist, by name: a playlist's weeks are
    found by looking in each week's folder for that playlist's file, a week's playlists by
    listing that week's folder, never the whole table."""
    folder = Path(data_dir) / constants.NORMALIZED / table
    weeks = partitions.weeks
    if weeks is None:
        weeks = sorted(_names_in(folder, constants.WEEK))
    if partitions.playlist is None:
        return [
            partition_file(data_dir, table, week, playlist)
            for week in weeks
            for playlist in sorted(
                _names_in(folder / f"{constants.WEEK}={week}", constants.PLAYLIST)
            )
            if partition_file(data_dir, table, week, playlist).is_file()
        ]
    files = [partition_file(data_dir, table, week, partitions.playlist) for week in weeks]
    return [path for path in files if path.is_file()]


def _names_in(folder: Path, column: str) -> list[str]:
    """The values of a partition column in a folder's Hive-style subfolders (``week=...``)."""
    prefix = f"{column}="
    try:
        with os.scandir(folder) as entries:
            return [e.name.removeprefix(prefix) for e in entries if e.name.startswith(prefix)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _table_source(
    data_dir: Path,
    table: str,
    partition_types: dict[str, str],
    files: list[Path] | None = None,
) -> str:
    """The table as a ``SELECT``: over the whole table, or over ``files`` when named."""
    if files is None and _has_files(data_dir, table):
        files = [table_glob(data_dir, table)]
    if files:
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in partition_types.items())
        paths = ", ".join(catalog.sql_string(str(path)) for path in files)
        return (
            f"SELECT * FROM read_parquet([{paths}], hive_partitioning = true, "
            f"hive_types = {{{types}}})"
        )
    # Nothing materialized yet: the same columns, no rows, so every view still runs.
    columns = [
        f"CAST(NULL AS {_DUCKDB_TYPES[field.type]}) AS {field.name}"
        for field in schema.TABLE_SCHEMAS[table]
    ]
    columns += [f"CAST(NULL AS {kind}) AS {name}" for name, kind in partition_types.items()]
    return f"SELECT {', '.join(columns)} WHERE 1 = 0"


def connect(
    data_dir: Path | str,
    *,
    partition_types: dict[str, str] | None = None,
    views: Iterable[str] | None = None,
    partitions: catalog.PartitionsByTable | None = None,
    tables: Iterable[str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake under ``data_dir`` as tables, and the ``views`` named
    (with the views they read; default every view). With ``partitions``, each table holds
    only the files of its partitions named there (none for a table left out), read once. Only
    the ``tables`` named are read (default every one); the others have no rows."""
    connection = duckdb.connect(":memory:")
    # Casting a timestamp to a date happens in UTC, as on Athena, not in the machine's zone.
    connection.execute("SET TimeZone = 'UTC'")
    types = partition_types or PARTITION_TYPES
    read = set(catalog.LAKE_TABLES if tables is None else tables)
    for table in catalog.LAKE_TABLES:
        if table not in read:
            connection.execute(
                f"CREATE VIEW {table} AS {_table_source(data_dir, table, types, [])}"
            )
        elif partitions is None:
            connection.execute(f"CREATE VIEW {table} AS {_table_source(data_dir, table, types)}")
        else:
            # Some partitions are small: in memory once, for every view that reads them.
            named = partitions.get(table)
            files = partition_files(data_dir, table, named) if named is not None else []
            source = _table_source(data_dir, table, types, files)
            connection.execute(f"CREATE TABLE {table} AS {source}")
    # Creating a view lists every file of the tables it reads: on a big lake, make only those
    # a query needs.
    names = list(catalog.views()) if views is None else list(views)
    needed = {v.name for name in names for v in catalog.with_dependencies(name)}
    for view in catalog.views().values():
        if view.name in needed:
            connection.execute(f"CREATE VIEW {view.name} AS\n{view.body}")
    return connection


def lake_is_empty(data_dir: Path | str) -> bool:
    return not _has_files(Path(data_dir), constants.PLAYLIST_ENTRIES)


def lake_playlists(data_dir: Path | str) -> list[str]:
    """The playlists with at least one week in the local lake, from its folder names (every
    materialized partition writes a ``playlist_entries`` file, an empty snapshot included)."""
    folder = Path(data_dir) / constants.NORMALIZED / constants.PLAYLIST_ENTRIES
    prefix = f"{constants.PLAYLIST}="
    return sorted({path.parent.name.removeprefix(prefix) for path in folder.glob("*/*/*.parquet")})


class DuckDBLake:
    """Runs SQL over the local lake. Opens the files at each query, so it sees new weeks."""

    engine = "duckdb"

    def __init__(self, data_dir: Path | str, partition_types: dict[str, str] | None = None):
        self.data_dir = Path(data_dir)
        self.partition_types = partition_types

    def query(self, sql: str, partitions: catalog.PartitionsByTable | None = None) -> QueryResult:
        return self.query_many({"query": sql}, partitions)["query"]

    def query_many(
        self, queries: dict[str, str], partitions: catalog.PartitionsByTable | None = None
    ) -> dict[str, QueryResult]:
        """Several queries on one connection: creating the views costs more than most. With
        ``partitions``, over the files of those partitions only (see :func:`connect`)."""
        views = {name for sql in queries.values() for name in catalog.views_in(sql)}
        # Over some partitions, which the views' own queries name: only the tables they read.
        # A query typed by a user may name a table in ways the view files do not (quoted,
        # with its schema): over the whole lake, every table is there.
        tables = None
        if partitions is not None:
            tables = {table for sql in queries.values() for table in catalog.tables_in(sql)}
        with connect(
            self.data_dir,
            partition_types=self.partition_types,
            views=views,
            partitions=partitions,
            tables=tables,
        ) as connection:
            return {name: _run(connection, sql) for name, sql in queries.items()}


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    relation = connection.sql(sql)
    if relation is None:  # a statement, not a query
        return QueryResult([], [])
    return QueryResult.from_arrow(relation.to_arrow_table())
