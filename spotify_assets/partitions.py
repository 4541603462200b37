"""Every asset is partitioned by week x playlist: weeks from the recordings or ``FIRST_WEEK``,
playlists from the Dagster instance (:mod:`spotify_assets.playlist_partitions`)."""

import datetime as dt
import logging

import dagster as dg

from spotify_assets import constants
from spotify_assets.deployment import replay_warnings, week_range
from spotify_assets.grouped_runs import week_and_playlist_of
from spotify_assets.playlist_partitions import playlist_partitions

logger = logging.getLogger(__name__)


def weekly_partitions() -> dg.WeeklyPartitionsDefinition:
    """Weeks starting on Monday, from the first to the last week of :func:`week_range`."""
    first_week, last_week = week_range()
    # Dagster's end date is exclusive: the day after the last week's window.
    end_date = last_week and (dt.date.fromisoformat(last_week) + dt.timedelta(days=7)).isoformat()
    return dg.WeeklyPartitionsDefinition(start_date=first_week, end_date=end_date, day_offset=1)


# Once per load of the definitions: Dagster shows it in the code location's log.
for warning in replay_warnings():
    logger.warning(warning)

weekly = weekly_partitions()

week_playlist_partitions = dg.MultiPartitionsDefinition(
    {
        constants.WEEK: weekly,
        constants.PLAYLIST: playlist_partitions,
    }
)


def week_and_playlist(context: dg.AssetExecutionContext) -> tuple[str, str]:
    return week_and_playlist_of(context.partition_key)
