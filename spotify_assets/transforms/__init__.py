"""Pure transforms: playlist JSON in, tables out. No Dagster and no AWS imports."""

from spotify_assets.transforms.normalize import (
    PlaylistFormatError,
    flatten_playlist,
    normalize_playlist,
    playlist_attributes,
    playlist_entries_page,
)

__all__ = [
    "PlaylistFormatError",
    "flatten_playlist",
    "normalize_playlist",
    "playlist_attributes",
    "playlist_entries_page",
]
