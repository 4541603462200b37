"""Playlist sources: the replay of recorded files (default) and, with credentials, Spotify."""

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError
from spotify_assets.sources.replay import SAMPLE_DATA_DIR, ReplaySource

__all__ = ["SAMPLE_DATA_DIR", "Extraction", "PlaylistSource", "ReplaySource", "SourceError"]
