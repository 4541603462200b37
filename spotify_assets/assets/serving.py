"""Serving layer: current state for reads, in DynamoDB (aws) or SQLite (local)."""

import dagster as dg
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.assets.metadata import column_schema_metadata, table_metadata
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.io_managers.serving import serving_schema
from spotify_assets.partitions import week_playlist_partitions


def serving_asset(table: str) -> dg.AssetsDefinition:
    # The UI lists the columns a reader of the serving table gets: the lake's, with
    # playlist_id first for the entries.
    @dg.asset(
        key=[constants.SERVING, table],
        group_name=constants.SERVING,
        partitions_def=week_playlist_partitions,
        io_manager_key="serving_store",
        ins={"normalized": dg.AssetIn(normalized_key(table))},
        metadata=column_schema_metadata(table, serving_schema(table)),
        description=(
            f"The current `{table}`: the newest week wins, unchanged rows are not rewritten, "
            "and a backfill of an older week never replaces what a newer week served."
        ),
    )
    def _serving(normalized: pa.Table) -> dg.Output[pa.Table]:
        return dg.Output(
            normalized, metadata=table_metadata(normalized, table, serving_schema(table))
        )

    return _serving


serving_assets = [serving_asset(table) for table in constants.SERVING_TABLES]
