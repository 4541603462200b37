"""The asset graph: raw -> normalized -> serving, every asset partitioned by week x playlist."""

from spotify_assets.assets.analytics import analytics_assets
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_csv, playlist_json
from spotify_assets.assets.serving import serving_assets

all_assets = [playlist_json, playlist_csv, normalized_tables, *serving_assets, *analytics_assets]
