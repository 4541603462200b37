"""The lake in DuckDB: the normalized tables as views over their Parquet files, then the views.

The tables get the Glue tables' names, so the view files read the same names on both engines.
``read_parquet`` lives here, never in a view file: Athena has no such function.
"""

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


def _table_source(data_dir: Path, table: str, partition_types: dict[str, str]) -> str:
    if _has_files(data_dir, table):
        types = ", ".join(f"'{name}': '{kind}'" for name, kind in partition_types.items())
        path = catalog.sql_string(table_glob(data_dir, table))
        return (
            f"SELECT * FROM read_parquet({path}, hive_partitioning = true, "
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
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake under ``data_dir`` as tables, and the ``views`` named
    (with the views they read; default every view)."""
    connection = duckdb.connect(":memory:")
    # Casting a timestamp to a date happens in UTC, as on Athena, not in the machine's zone.
    connection.execute("SET TimeZone = 'UTC'")
    types = partition_types or PARTITION_TYPES
    for table in catalog.LAKE_TABLES:
        connection.execute(f"CREATE VIEW {table} AS {_table_source(data_dir, table, types)}")
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

    def query(self, sql: str) -> QueryResult:
        return self.query_many({"query": sql})["query"]

    def query_many(self, queries: dict[str, str]) -> dict[str, QueryResult]:
        """Several queries on one connection: creating the views costs more than most."""
        views = {name for sql in queries.values() for name in catalog.views_in(sql)}
        with connect(
            self.data_dir, partition_types=self.partition_types, views=views
        ) as connection:
            return {name: _run(connection, sql) for name, sql in queries.items()}


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    relation = connection.sql(sql)
    if relation is None:  # a statement, not a query
        return QueryResult([], [])
    return QueryResult.from_arrow(relation.to_arrow_table())
