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
from spotify_assets.grouped_runs import (
    by_partition,
    grouped_backfills,
    partition_output,
    run_partition_keys,
)
from spotify_assets.io_managers.serving import SERVING_ORDER, serving_schema
from spotify_assets.partitions import week_playlist_partitions

# A partition's table, or a grouped run's tables keyed by partition key (see grouped_runs).
TABLE_OR_TABLES = dg.PythonObjectDagsterType((pa.Table, dict), name="TableOrTablesByPartition")

# What a serving table holds, where its name does not say it.
HOLDS = {
    constants.PLAYLISTS: " (each playlist's name, owner, total, snapshot id and link, as of its "
    "newest week; the read API and the dashboard take names from it)",
    constants.PLAYLIST_ENTRIES: " (each playlist's newest snapshot, entry by entry)",
}


def serving_asset(table: str) -> dg.AssetsDefinition:
    # The UI lists the columns a reader of the serving table gets: the lake's, with
    # playlist_id first for the entries and the playlists.
    # A backfill serves up to a year of partitions a run, each playlist's weeks oldest first.
    @grouped_backfills
    @dg.asset(
        key=[constants.SERVING, table],
        group_name=constants.SERVING,
        partitions_def=week_playlist_partitions,
        io_manager_key="serving_store",
        ins={"normalized": dg.AssetIn(normalized_key(table))},
        # Written after the tables it refers to, so every reference a reader follows resolves
        # (and a playlist's row before its entries: see SERVING_ORDER).
        deps=[[constants.SERVING, t] for t in SERVING_ORDER[: SERVING_ORDER.index(table)]],
        metadata={
            **column_schema_metadata(table, serving_schema(table)),
            **table_name_metadata(serving_table_name(table)),
        },
        kinds={serving_store_kind()},
        description=(
            f"The current `{table}`{HOLDS.get(table, '')}: what a build from scratch, in "
            "chronological order, from the lake would serve, whatever order the partitions run "
            "in (the newest week wins). Unchanged rows are not rewritten; `spotify-assets "
            "serving verify` checks it."
        ),
    )
    def _serving(context: dg.AssetExecutionContext, normalized: TABLE_OR_TABLES) -> dg.Output:
        tables = by_partition(run_partition_keys(context), normalized)
        columns = serving_schema(table)
        metadata = {key: table_metadata(value, table, columns) for key, value in tables.items()}
        return partition_output(context, tables, metadata)

    return _serving


serving_assets = [serving_asset(table) for table in SERVING_ORDER]
