"""Analytics: each playlist-week in numbers, and the files the dashboard reads (and charts).

Both run the SQL views (``spotify_assets/sql/views``) on the lake's engine: DuckDB over local
files, Athena over S3. They write small JSON files through the object store, so a page view never
scans the lake.
"""

import warnings
from collections.abc import Collection
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow as pa
from pydantic import Field

from spotify_assets import constants
from spotify_assets.assets.metadata import column_schema_metadata, table_metadata
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.grouped_runs import (
    grouped_backfills,
    run_partition_keys,
    week_and_playlist_of,
)
from spotify_assets.io_managers.object_store import CONTENT_TYPES, JSON, PARQUET, partition_path
from spotify_assets.partitions import week_playlist_partitions
from spotify_assets.sql import catalog
from spotify_assets.sql.lake import lake_at, object_store_root
from spotify_assets.transforms import schema
from spotify_assets.transforms.checks import LOST_SHARE_WARNING, lost_tracks_problem

if TYPE_CHECKING:
    from spotify_assets.sql.dashboard import DashboardUpdate
    from spotify_assets.sql.result import QueryResult

ANALYTICS = "analytics"
WEEKLY_SUMMARY = dg.AssetKey([ANALYTICS, "weekly_summary"])
DASHBOARD = dg.AssetKey([ANALYTICS, "dashboard"])
FEW_TRACKS_LOST = "few_tracks_lost"

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


@grouped_backfills
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
    # The view it runs has the asset's name.
    metadata=column_schema_metadata(WEEKLY_SUMMARY.path[-1], schema.WEEKLY_SUMMARY),
    kinds={"sql", "json"},
    check_specs=[
        dg.AssetCheckSpec(
            FEW_TRACKS_LOST,
            asset=WEEKLY_SUMMARY,
            description=(
                f"Warns when a playlist loses more than {LOST_SHARE_WARNING:.0%} of its items "
                "in a week (removed / the previous snapshot's items): perhaps an owner's "
                "mistake, perhaps Spotify taking tracks down. A warning, not a failure."
            ),
        )
    ],
)
def weekly_summary(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """One playlist's week in numbers: length, hours, items added and removed since its
    previous snapshot, turnover and distinct credited artists (the `weekly_summary` view).
    An empty snapshot counts 0 entries and 0 hours.

    Stored as `analytics/weekly_summary/week=<week>/playlist=<id>/weekly_summary.json`. The
    numbers are each partition's metadata: read them on one partition. For a playlist's
    numbers over the weeks, open the dashboard (`spotify-assets serve`), which charts them per
    playlist; the Plots tab here would put every playlist|week key on one axis.

    It reads its own week's files and those of the playlist's previous snapshot, by name,
    whatever the size of the lake (on Athena: filters that partition projection prunes on)."""
    # Here, not with the definitions: it loads DuckDB's and Athena's errors and the web package.
    from spotify_assets.sql.dashboard import SUMMARY_VIEW, encode_json, summary_metadata

    store = context.resources.object_store
    metadata, lost = {}, []
    # A backfill summarizes up to a year of partitions a run, each in its own file.
    for partition_key in run_partition_keys(context):
        week, playlist = week_and_playlist_of(partition_key)
        result = summary_of(store, playlist, week)
        path = (
            object_store_root(store)
            / ANALYTICS
            / "weekly_summary"
            / f"{constants.WEEK}={week}"
            / f"{constants.PLAYLIST}={playlist}"
            / "weekly_summary.json"
        )
        _write(store, path, encode_json(result.records()))
        [record] = result.records() or [{}]
        if problem := _lost_tracks(store, playlist, week, record):
            lost.append(problem)
        metadata[partition_key] = {
            **summary_metadata(result),
            **table_metadata(
                pa.Table.from_pylist(result.records(), schema=schema.WEEKLY_SUMMARY),
                SUMMARY_VIEW,
            ),
            "path": dg.MetadataValue.path(str(path)),
        }
    # One result per run: Dagster 1.13 records one evaluation per check and step.
    check = dg.AssetCheckResult(
        check_name=FEW_TRACKS_LOST,
        passed=not lost,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"problems": "; ".join(lost) or "none", "partitions_checked": len(metadata)},
    )
    if len(metadata) == 1:
        return dg.MaterializeResult(metadata=next(iter(metadata.values())), check_results=[check])
    for partition_key, partition_metadata in metadata.items():
        context.add_asset_metadata(partition_metadata, partition_key=partition_key)
    return dg.MaterializeResult(check_results=[check])


DASHBOARD_DEPS = [normalized_key(table) for table in constants.NORMALIZED_TABLES]
# The newest materialization of the lake's tables a dashboard run has taken in: the next run
# recomputes the playlists of the partitions materialized after it.
LAKE_CURSOR = "lake_cursor"


class DashboardConfig(dg.Config):
    rebuild: bool = Field(
        default=False,
        description="Rebuild every playlist's files from the whole lake, not only those of the "
        "playlists whose lake changed since the previous run.",
    )


@dg.asset(
    key=DASHBOARD,
    group_name=ANALYTICS,
    deps=DASHBOARD_DEPS,
    required_resource_keys={"object_store"},
    automation_condition=DASHBOARD_CONDITION,
    kinds={"sql", "json"},
)
def dashboard(context: dg.AssetExecutionContext, config: DashboardConfig) -> dg.MaterializeResult:
    """What the dashboard page reads: `dashboard/<playlist>/<view>.json` for every view and
    playlist (1,000 rows a file: longer views go on in `<view>.<first row>.json`), and
    `dashboard/index.json` listing the playlists with their names and latest summary.

    Trend views keep their whole history; detail views (top artists, movers, what playlists
    share) only each playlist's newest week. Refreshed per playlist: a run recomputes only the
    playlists whose lake changed since the previous run, each from its own partitions, and
    updates their entries in the index. The first run, a run with `rebuild: true` and
    `spotify-assets dashboard` rebuild every playlist's files from the whole lake. A playlist's
    name comes from its newest raw snapshot, read once per week: the read API never opens a raw
    snapshot, which can be hundreds of megabytes."""
    from spotify_assets.sql.dashboard import INDEX_PATH

    store = context.resources.object_store
    # Before the lake is read: a partition written meanwhile is taken in by the next run.
    changed, cursor = _lake_changes_since_the_previous_run(context.instance)
    update = write_dashboard(store, None if config.rebuild else changed)
    sizes = [len(data) for data in update.files.values()]
    return dg.MaterializeResult(
        metadata={
            "engine": update.engine,
            "rebuilt": update.rebuilt,
            "playlists": len(update.playlists),
            "files_written": len(sizes),
            "bytes_written": sum(sizes),
            "largest_file_bytes": max(sizes, default=0),
            "rows_per_view": dg.MetadataValue.json(update.rows_per_view),
            "failed_views": dg.MetadataValue.json(update.failures),
            "index": dg.MetadataValue.path(str(object_store_root(store) / INDEX_PATH)),
            **({LAKE_CURSOR: cursor} if cursor is not None else {}),
        }
    )


def write_dashboard(store, changed: Collection[tuple[str, str]] | None) -> "DashboardUpdate":
    """Writes the dashboard's files through the object store ``store``: every playlist's, from
    the whole lake (``changed`` None), or only those of the playlists of the ``changed``
    ``(playlist, week)`` partitions, and the index. Returns what it wrote."""
    from spotify_assets.sql.dashboard import rebuild_dashboard, refresh_dashboard

    root = object_store_root(store)
    lake = lake_at(root)

    def read(relative_path: str) -> bytes | None:
        return _read(store, root / relative_path)

    if changed is None:
        update = rebuild_dashboard(lake, read)
    else:
        update = refresh_dashboard(lake, read, changed)
    for relative_path, data in update.files.items():
        _write(store, root / relative_path, data)
    return update


def _lake_changes_since_the_previous_run(
    instance: dg.DagsterInstance,
) -> tuple[set[tuple[str, str]] | None, int | None]:
    """The ``(playlist, week)`` partitions of the lake's tables materialized since the previous
    dashboard run took them in (None when no run did: everything is new), and the cursor that
    this run takes them in up to. Read from the event log by storage id, after the cursor: the
    cost follows the changes, not the history."""
    previous = instance.get_latest_materialization_event(DASHBOARD)
    kept = previous.asset_materialization.metadata.get(LAKE_CURSOR) if previous else None
    if kept is None:
        newest = [
            record.storage_id
            for key in DASHBOARD_DEPS
            for record in instance.fetch_materializations(key, limit=1).records
        ]
        return None, max(newest, default=None)
    cursor = changes_cursor = kept.value
    changed = set()
    for key in DASHBOARD_DEPS:
        page = None
        while True:
            found = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=cursor),
                limit=1000,
                cursor=page,
                ascending=True,
            )
            for record in found.records:
                changes_cursor = max(changes_cursor, record.storage_id)
                if record.partition_key:
                    keys = week_playlist_partitions.get_partition_key_from_str(
                        record.partition_key
                    ).keys_by_dimension
                    changed.add((keys[constants.PLAYLIST], keys[constants.WEEK]))
            if not found.has_more:
                break
            page = found.cursor
    return changed, changes_cursor


def summary_of(store, playlist: str, week: str) -> "QueryResult":
    """The ``weekly_summary`` view's row of one playlist-week (none for an empty snapshot),
    from the files of that week and of the playlist's previous snapshot alone, through the
    object store ``store``."""
    from spotify_assets.sql.dashboard import SUMMARY_VIEW
    from spotify_assets.sql.lake_reads import summary_partitions

    previous_week = _previous_snapshot_week(store, playlist, week)
    partitions = summary_partitions(
        playlist,
        week,
        previous_week,
        tables_of_both_weeks=[SUMMARY_TABLE_OF_BOTH_WEEKS.path[-1]],
        tables_of_this_week=[key.path[-1] for key in SUMMARY_TABLES_OF_THIS_WEEK],
    )
    query = catalog.view_query(SUMMARY_VIEW, week=week, playlist=playlist)
    return lake_at(object_store_root(store)).query(query, partitions)


def _first_week() -> str:
    """The first week that has partitions."""
    weeks = week_playlist_partitions.get_partitions_def_for_dimension(constants.WEEK)
    return weeks.start.date().isoformat()


def _previous_snapshot_week(store, playlist: str, week: str) -> str | None:
    """The week of the playlist's snapshot before ``week`` in the lake; None without one."""
    from spotify_assets.sql.lake_reads import previous_snapshot_week

    return previous_snapshot_week(
        lambda other_week: _entry_count(store, playlist, other_week), week, _first_week()
    )


def _lost_tracks(store, playlist: str, week: str, summary: dict) -> str | None:
    """The warning of a week that lost more than its share of the items of the snapshot taken
    before it; none if that one was empty. An emptied snapshot has no summary row: it lost every
    item the snapshot before it had."""
    from spotify_assets.sql.lake_reads import previous_snapshot_week

    taken_before = previous_snapshot_week(
        lambda other_week: _entry_count(store, playlist, other_week) is not None,
        week,
        _first_week(),
    )
    entries_before = (taken_before and _entry_count(store, playlist, taken_before)) or 0
    if not entries_before:
        return None
    summary = summary or {"entries": 0, "added": 0, "removed": entries_before}
    return lost_tracks_problem(f"playlist {playlist!r}, week {week}", summary)


def _entry_count(store, playlist: str, week: str) -> int | None:
    """How many entries the playlist's snapshot of ``week`` has in the lake, from its
    ``playlist_entries`` file's footer; None when that week was never taken."""
    import pyarrow.parquet as pq

    folder = object_store_root(store).joinpath(*SUMMARY_TABLE_OF_BOTH_WEEKS.path)
    path = partition_path(folder, constants.PLAYLIST_ENTRIES, PARQUET, playlist, week)
    data = _read(store, path)
    return None if data is None else pq.read_metadata(pa.BufferReader(data)).num_rows


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
