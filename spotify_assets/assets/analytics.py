"""Analytics: each playlist-week in numbers, and the files the dashboard reads (and charts).

Both run the SQL views (``spotify_assets/sql/views``) on the lake's engine: DuckDB over local
files, Athena over S3. They write small JSON files through the object store, so a page view never
scans the lake.
"""

import warnings

import dagster as dg
import pyarrow as pa

from spotify_assets import constants
from spotify_assets.assets.metadata import column_schema_metadata, table_metadata
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.assets.raw import PLAYLIST_JSON
from spotify_assets.io_managers.object_store import CONTENT_TYPES, JSON, partition_path
from spotify_assets.partitions import week_and_playlist, week_playlist_partitions
from spotify_assets.sql import catalog
from spotify_assets.sql.dashboard import (
    DASHBOARD_FOLDER,
    INDEX_FILE,
    SUMMARY_VIEW,
    dashboard_files,
    dashboard_results,
    encode_json,
    indexed_names,
    latest_weeks,
    playlist_name,
    summary_metadata,
)
from spotify_assets.sql.lake import lake_at, object_store_root
from spotify_assets.transforms import schema

ANALYTICS = "analytics"
WEEKLY_SUMMARY = dg.AssetKey([ANALYTICS, "weekly_summary"])
DASHBOARD = dg.AssetKey([ANALYTICS, "dashboard"])

# The summary compares a week with the playlist's previous snapshot (`weekly_changes`), so it
# reads last week's entries too: declared, so that re-running week N-1 makes week N's summary
# stale. The first week has no previous week.
with warnings.catch_warnings():
    # Both are beta; the tests pin the behaviour, a warning on every load adds nothing.
    warnings.simplefilter("ignore", dg.BetaWarning)
    PREVIOUS_AND_THIS_WEEK = dg.MultiPartitionMapping(
        {
            constants.WEEK: dg.DimensionPartitionMapping(
                constants.WEEK,
                dg.TimeWindowPartitionMapping(
                    start_offset=-1, end_offset=0, allow_nonexistent_upstream_partitions=True
                ),
            ),
            constants.PLAYLIST: dg.DimensionPartitionMapping(
                constants.PLAYLIST, dg.IdentityPartitionMapping()
            ),
        }
    )
SUMMARY_TABLE_OF_BOTH_WEEKS = normalized_key(constants.PLAYLIST_ENTRIES)
SUMMARY_TABLES_OF_THIS_WEEK = [normalized_key(t) for t in (constants.SONGS, constants.SONG_ARTISTS)]

# A dep's partition that is published but has not passed its blocking checks. Never-materialized
# partitions hold nothing up: most weeks of most playlists are never snapshotted (the partitions
# start long before a playlist's first snapshot), so a week's previous week, and the lake the
# dashboard reads, have gaps.
_PUBLISHED_WITHOUT_PASSING_ITS_CHECKS = ~dg.AutomationCondition.missing() & (
    dg.AutomationCondition.any_checks_match(
        ~dg.AutomationCondition.check_passed() & ~dg.AutomationCondition.will_be_requested(),
        blocking_only=True,
    )
)
# Not `all_deps_match(...)`: Dagster counts a dep as matching when any one of the partitions
# read does. Negated, every partition read must have passed.
_BLOCKING_CHECKS_PASSED = ~dg.AutomationCondition.any_deps_match(
    _PUBLISHED_WITHOUT_PASSING_ITS_CHECKS
).with_label("any_deps_published_without_passing_blocking_checks")

# Eager for every partition, not only the latest week's: a backfilled or re-run week needs its
# summary too. And after an update by any run: eager() ignores those of runs that targeted the
# asset itself, but the run of week N-1 that refreshes its own summary leaves week N's stale.
_EAGER_FOR_EVERY_WEEK = (
    dg.AutomationCondition.eager()
    .without(dg.AutomationCondition.in_latest_time_window())
    .replace(
        "any_deps_updated",
        dg.AutomationCondition.any_deps_match(
            dg.AutomationCondition.newly_updated() | dg.AutomationCondition.will_be_requested()
        ).with_label("any_deps_updated"),
    )
)

SUMMARY_CONDITION = (
    _EAGER_FOR_EVERY_WEEK.replace(
        "any_deps_missing",
        # A playlist's first snapshotted week has no previous week: only this week must exist.
        dg.AutomationCondition.any_deps_missing()
        .allow(dg.AssetSelection.assets(*SUMMARY_TABLES_OF_THIS_WEEK))
        .with_label("this_weeks_tables_missing"),
    )
    & _BLOCKING_CHECKS_PASSED
).with_label("after_its_weeks_pass_their_checks")

DASHBOARD_CONDITION = (
    # The dashboard reads the whole lake, of which most partitions are never materialized.
    _EAGER_FOR_EVERY_WEEK.without(~dg.AutomationCondition.any_deps_missing())
    & _BLOCKING_CHECKS_PASSED
).with_label("after_the_lake_passes_its_checks")


@dg.asset(
    key=WEEKLY_SUMMARY,
    group_name=ANALYTICS,
    # The same week x playlist partitions as the lake, so `--select '*'` with one partition
    # key covers the whole graph, and each partition reads only its own folders.
    partitions_def=week_playlist_partitions,
    deps=[
        dg.AssetDep(SUMMARY_TABLE_OF_BOTH_WEEKS, partition_mapping=PREVIOUS_AND_THIS_WEEK),
        *SUMMARY_TABLES_OF_THIS_WEEK,
    ],
    required_resource_keys={"object_store"},
    automation_condition=SUMMARY_CONDITION,
    metadata=column_schema_metadata(SUMMARY_VIEW, schema.WEEKLY_SUMMARY),
    kinds={"sql", "json"},
)
def weekly_summary(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One playlist's week in numbers: length, hours, items added and removed since its
    previous snapshot, turnover and distinct credited artists (the `weekly_summary` view).
    An empty snapshot counts 0 entries and 0 hours.

    Stored as `analytics/weekly_summary/week=<week>/playlist=<id>/weekly_summary.json`. The
    numbers are each partition's metadata: read them on one partition. For a playlist's
    numbers over the weeks, open the dashboard (`spotify-assets serve`), which charts them per
    playlist; the Plots tab here would put every playlist|week key on one axis."""
    week, playlist = week_and_playlist(context)
    store = context.resources.object_store
    query = catalog.view_query(SUMMARY_VIEW, week=week, playlist=playlist)
    result = lake_at(object_store_root(store)).query(query)
    path = (
        object_store_root(store)
        / ANALYTICS
        / "weekly_summary"
        / f"{constants.WEEK}={week}"
        / f"{constants.PLAYLIST}={playlist}"
        / "weekly_summary.json"
    )
    _write(store, path, encode_json(result.records()))
    return dg.MaterializeResult(
        metadata={
            **summary_metadata(result),
            **table_metadata(
                pa.Table.from_pylist(result.records(), schema=schema.WEEKLY_SUMMARY),
                SUMMARY_VIEW,
            ),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    key=DASHBOARD,
    group_name=ANALYTICS,
    deps=[normalized_key(table) for table in constants.NORMALIZED_TABLES],
    required_resource_keys={"object_store"},
    automation_condition=DASHBOARD_CONDITION,
    kinds={"sql", "json"},
)
def dashboard(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """What the dashboard page reads: `dashboard/<playlist>/<view>.json` for every view and
    playlist (1,000 rows a file: longer views go on in `<view>.<first row>.json`), and
    `dashboard/index.json` listing the playlists with their names and latest summary.

    Trend views keep their whole history; detail views (top artists, movers, shared tracks)
    only each playlist's newest week. One query per view over the whole lake, split by playlist
    here. A playlist's name comes from its newest raw snapshot, read once per week: the read
    API never opens a raw snapshot, which can be hundreds of megabytes."""
    store = context.resources.object_store
    root = object_store_root(store)
    lake = lake_at(root)
    results, failures = dashboard_results(lake, catalog.views())
    files = dashboard_files(results, _playlist_names(store, root, latest_weeks(results)), failures)
    for relative_path, data in files.items():
        _write(store, root / DASHBOARD_FOLDER / relative_path, data)
    playlists = {path.split("/")[0] for path in files if "/" in path}
    rows = {name: len(result.rows) for name, result in results.items()}
    return dg.MaterializeResult(
        metadata={
            "engine": lake.engine,
            "playlists": len(playlists),
            "files_written": len(files),
            "bytes_written": sum(len(data) for data in files.values()),
            "largest_file_bytes": max(len(data) for data in files.values()),
            "rows_per_view": dg.MetadataValue.json(rows),
            "failed_views": dg.MetadataValue.json(failures),
            "index": dg.MetadataValue.path(str(root / DASHBOARD_FOLDER / INDEX_FILE)),
        }
    )


def _playlist_names(store, root, weeks: dict[str, str]) -> dict[str, str | None]:
    """Each playlist's name in its snapshot of ``weeks[playlist]``: as the index already has it
    for that week, else from the raw snapshot."""
    indexed = indexed_names(_read(store, root / DASHBOARD_FOLDER / INDEX_FILE))
    raw_folder = root.joinpath(*PLAYLIST_JSON.path)
    names = {}
    for playlist, week in weeks.items():
        if playlist in indexed and indexed[playlist][0] == week:
            names[playlist] = indexed[playlist][1]
        else:
            path = partition_path(raw_folder, PLAYLIST_JSON.path[-1], JSON, playlist, week)
            names[playlist] = playlist_name(_read(store, path))
    return names


def _read(store, path) -> bytes | None:
    try:
        return store.read_bytes(path)
    except FileNotFoundError:
        return None


def _write(store, path, data: bytes) -> None:
    # Through the object store's own hooks, so the S3 flavour writes to S3.
    store.make_directory(path.parent)  # a no-op on S3
    store.write_bytes(path, data, CONTENT_TYPES[JSON])


analytics_assets = [weekly_summary, dashboard]

analytics_sensor = dg.AutomationConditionSensorDefinition(
    "analytics_after_the_lake_changes",
    target=dg.AssetSelection.groups(ANALYTICS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Refreshes the summary of every week whose tables (or previous week's) changed, "
    "and the dashboard files, once the changed tables passed their blocking checks.",
)
