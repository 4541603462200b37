"""The asset graph: raw -> normalized -> serving, every asset partitioned by week x playlist."""

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.analytics import analytics_assets
from spotify_assets.assets.metadata import OWNERS
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_csv, playlist_json
from spotify_assets.assets.serving import serving_assets
from spotify_assets.freshness import weekly_freshness_policy

WEEKLY_GROUPS = (constants.RAW, constants.NORMALIZED, constants.SERVING)


def with_owners_and_deadline(
    assets_def: dg.AssetsDefinition, freshness_policy: dg.FreshnessPolicy | None
) -> dg.AssetsDefinition:
    """``assets_def`` with the project's owners on every asset, and ``freshness_policy`` on the
    weekly snapshot's (raw, normalized and serving) when there is one."""

    def conventions(spec: dg.AssetSpec) -> dg.AssetSpec:
        spec = spec.replace_attributes(owners=spec.owners or OWNERS)
        if freshness_policy is not None and spec.group_name in WEEKLY_GROUPS:
            spec = spec.replace_attributes(freshness_policy=freshness_policy)
        return spec

    return assets_def.map_asset_specs(conventions)


all_assets = [
    with_owners_and_deadline(assets_def, weekly_freshness_policy())
    for assets_def in [
        playlist_json,
        playlist_csv,
        normalized_tables,
        *serving_assets,
        *analytics_assets,
    ]
]
