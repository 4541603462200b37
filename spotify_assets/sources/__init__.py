"""Playlist sources: the replay of recorded files (default) and, with credentials, Spotify."""

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError, StoredSnapshot
from spotify_assets.sources.replay import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.spotify_settings import parse_playlist_ids

# The live source loads spotipy and requests: imported when first asked for, so replaying (the
# default) never loads them.
_LIVE = ("LiveSource", "live_source_from_environment")


def __getattr__(name: str):
    if name in _LIVE:
        from spotify_assets.sources import live

        return getattr(live, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SAMPLE_DATA_DIR",
    "Extraction",
    "LiveSource",
    "PlaylistSource",
    "ReplaySource",
    "SourceError",
    "StoredSnapshot",
    "live_source_from_environment",
    "parse_playlist_ids",
]
