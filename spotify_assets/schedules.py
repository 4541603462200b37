"""The weekly schedule: every Monday at 06:00 UTC, last week's snapshot of every playlist."""

import datetime as dt
import math

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.raw import PLAYLIST_JSON_WORST_CASE_SECONDS
from spotify_assets.partitions import week_playlist_partitions
from spotify_assets.playlist_partitions import partitioned_playlist_ids

# The rest of a snapshot run (CSV, normalized tables and their checks, serving writes): five
# times the two minutes a whole run takes on Fargate (deploy/README.md, "What it costs").
AFTER_EXTRACTION_SECONDS = 10 * 60
# Run monitoring stops a run that outlives this: a hung run fails instead of holding its place in
# the queue and its Spotify slot.
SNAPSHOT_RUN_TIMEOUT_SECONDS = math.ceil(
    PLAYLIST_JSON_WORST_CASE_SECONDS + AFTER_EXTRACTION_SECONDS
)
MAX_RUNTIME_TAG = "dagster/max_runtime"

weekly_snapshot_job = dg.define_asset_job(
    "weekly_snapshot",
    # The snapshot layers only: the analytics assets are partitioned by week alone.
    selection=dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING),
    description="Snapshots one playlist for one week, through raw, normalized and serving.",
    run_tags={MAX_RUNTIME_TAG: str(SNAPSHOT_RUN_TIMEOUT_SECONDS)},
)


def last_completed_week(now: dt.datetime) -> str:
    """The Monday starting the last week that ended before ``now``."""
    this_monday = now.date() - dt.timedelta(days=now.weekday())
    return (this_monday - dt.timedelta(days=7)).isoformat()


@dg.schedule(
    job=weekly_snapshot_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_snapshot_schedule(context: dg.ScheduleEvaluationContext):
    """One run per playlist for the week that just ended, so one broken playlist never blocks
    the others: the playlists that have partitions at the tick, so one added since the last
    tick is snapshotted and a removed one is not."""
    week = last_completed_week(context.scheduled_execution_time)
    weeks = week_playlist_partitions.get_partitions_def_for_dimension(constants.WEEK)
    if not weeks.has_partition_key(week):
        # Replaying recordings: the weeks end at the last recorded one.
        last_week = weeks.get_last_partition_key()
        yield dg.SkipReason(f"week {week} has no partition: the weeks end at {last_week}")
        return
    for playlist_id in sorted(partitioned_playlist_ids(context.instance)):
        partition_key = dg.MultiPartitionKey(
            {constants.WEEK: week, constants.PLAYLIST: playlist_id}
        )
        yield dg.RunRequest(run_key=f"{week}|{playlist_id}", partition_key=partition_key)
