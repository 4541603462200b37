"""Every asset is partitioned by week x playlist."""

import dagster as dg

from spotify_assets import constants
from spotify_assets.deployment import configured_playlist_ids, first_week

weekly = dg.WeeklyPartitionsDefinition(start_date=first_week(), day_offset=1)

week_playlist_partitions = dg.MultiPartitionsDefinition(
    {
        constants.WEEK: weekly,
        constants.PLAYLIST: dg.StaticPartitionsDefinition(configured_playlist_ids()),
    }
)


def week_and_playlist(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys[constants.WEEK], keys[constants.PLAYLIST]
