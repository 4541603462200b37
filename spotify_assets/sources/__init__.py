"""Playlist sources: the replay of recorded files (default) and, with credentials, Spotify."""

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError, StoredSnapshot
from spotify_assets.sources.live import LiveSource, live_source_from_environment
from spotify_assets.sources.replay import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.spotify_api import parse_playlist_ids

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
