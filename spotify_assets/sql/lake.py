"""Which engine answers SQL over the lake: DuckDB over local files, Athena over S3."""

from pathlib import Path
from typing import Protocol

from upath import UPath

from spotify_assets.sql.catalog import PartitionsByTable
from spotify_assets.sql.result import QueryResult

LOCAL_PROTOCOLS = ("", "file", "local")


class Lake(Protocol):
    """Runs SQL over the lake's tables and views: over every partition, or over only the
    ``partitions`` named, by table (the files of those partitions, by name, on DuckDB; literal
    filters that partition projection prunes on, on Athena)."""

    engine: str

    def query(self, sql: str, partitions: PartitionsByTable | None = None) -> QueryResult: ...

    def query_many(
        self, queries: dict[str, str], partitions: PartitionsByTable | None = None
    ) -> dict[str, QueryResult]: ...


def lake_at(root: UPath | Path | str) -> Lake:
    """The engine for the object store at ``root``: a local folder is read by DuckDB, an
    ``s3://`` root is queried through Athena (settings from the environment). Only that engine's
    modules are imported: DuckDB never loads in AWS, nor boto3 locally."""
    root = UPath(root)
    if root.protocol in LOCAL_PROTOCOLS:
        from spotify_assets.sql.duckdb_lake import DuckDBLake

        return DuckDBLake(Path(root.path))
    if root.protocol in ("s3", "s3a"):
        from spotify_assets.sql.athena import AthenaLake, AthenaSettings

        return AthenaLake(AthenaSettings.from_environment())
    raise ValueError(f"no SQL engine for an object store at {root}")


def object_store_root(object_store) -> UPath:
    """The root of an object-store IO manager, local or S3 flavour."""
    # UPathIOManager keeps it private, and every flavour of the object store sets it.
    return object_store._base_path
