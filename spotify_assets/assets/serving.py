"""Serving layer: current state for reads, in DynamoDB (aws) or SQLite (local)."""

import dagster as dg
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.assets.metadata import (
    column_schema_metadata,
    serving_store_kind,
    serving_table_name,
    table_metadata,
    table_name_metadata,
)
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.io_managers.serving import SERVING_ORDER, serving_schema
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
        # Written after the tables it refers to, so every reference a reader follows resolves.
        deps=[[constants.SERVING, t] for t in SERVING_ORDER[: SERVING_ORDER.index(table)]],
        metadata={
            **column_schema_metadata(table, serving_schema(table)),
            **table_name_metadata(serving_table_name(table)),
        },
        kinds={serving_store_kind()},
        description=(
            f"The current `{table}`: what a build from scratch, in chronological order, from "
            "the lake would serve, whatever order the partitions run in (the newest week "
            "wins). Unchanged rows are not rewritten; `spotify-assets serving verify` checks it."
        ),
    )
    def _serving(normalized: pa.Table) -> dg.Output[pa.Table]:
        return dg.Output(
            normalized, metadata=table_metadata(normalized, table, serving_schema(table))
        )

    return _serving


serving_assets = [serving_asset(table) for table in SERVING_ORDER]
