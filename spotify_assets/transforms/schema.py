"""Column names and types of every table: the one place the lake's schema is written down.

Integers are int64 (Glue's ``bigint``) and timestamps are milliseconds in UTC, as Athena reads
them. ``nullable=False`` marks the primary-key columns.
"""

import pyarrow as pa

TIMESTAMP = pa.timestamp("ms", tz="UTC")

ARTISTS = pa.schema(
    [
        pa.field("artist_id", pa.string(), nullable=False),
        pa.field("artist_name", pa.string()),
        pa.field("external_url", pa.string()),
        pa.field("uri", pa.string()),
    ]
)

ALBUMS = pa.schema(
    [
        pa.field("album_id", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("release_date", pa.string()),
        pa.field("release_date_precision", pa.string()),
        pa.field("release_year", pa.int64()),
        pa.field("album_type", pa.string()),
        pa.field("total_tracks", pa.int64()),
        pa.field("artist_id", pa.string()),
        pa.field("url", pa.string()),
    ]
)

SONGS = pa.schema(
    [
        pa.field("song_id", pa.string(), nullable=False),
        pa.field("song_name", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("url", pa.string()),
        pa.field("popularity", pa.int64()),
        pa.field("song_added", TIMESTAMP),
        pa.field("album_id", pa.string()),
        pa.field("artist_id", pa.string()),
        pa.field("isrc", pa.string()),
        pa.field("explicit", pa.bool_()),
        pa.field("disc_number", pa.int64()),
        pa.field("track_number", pa.int64()),
    ]
)

SONG_ARTISTS = pa.schema(
    [
        pa.field("song_id", pa.string(), nullable=False),
        pa.field("artist_position", pa.int64(), nullable=False),
        pa.field("artist_id", pa.string(), nullable=False),
    ]
)

# In the lake, playlist_id and week come from the folder names (playlist=..., week=...).
PLAYLIST_ENTRIES = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),
        pa.field("item_type", pa.string(), nullable=False),
        pa.field("song_id", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("name", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("added_at", TIMESTAMP),
        pa.field("added_by", pa.string()),
        pa.field("snapshot_id", pa.string()),
    ]
)

# raw/playlist_csv: one row per entry, flattened. Lists are written as text: ids joined with
# ";" (Spotify ids are base62) and names as a JSON array (names may hold any character).
PLAYLIST_CSV = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),
        pa.field("item_type", pa.string(), nullable=False),
        pa.field("added_at", pa.string()),
        pa.field("added_by", pa.string()),
        pa.field("is_local", pa.bool_()),
        pa.field("item_id", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("name", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("explicit", pa.bool_()),
        pa.field("disc_number", pa.int64()),
        pa.field("track_number", pa.int64()),
        pa.field("isrc", pa.string()),
        pa.field("popularity", pa.int64()),
        pa.field("artist_ids", pa.string()),
        pa.field("artist_names", pa.string()),
        pa.field("album_id", pa.string()),
        pa.field("album_name", pa.string()),
        pa.field("album_type", pa.string()),
        pa.field("album_release_date", pa.string()),
        pa.field("album_release_date_precision", pa.string()),
        pa.field("album_artist_ids", pa.string()),
        pa.field("show_id", pa.string()),
        pa.field("show_name", pa.string()),
        pa.field("url", pa.string()),
    ]
)

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "artists": ARTISTS,
    "albums": ALBUMS,
    "songs": SONGS,
    "song_artists": SONG_ARTISTS,
    "playlist_entries": PLAYLIST_ENTRIES,
}

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "artists": ("artist_id",),
    "albums": ("album_id",),
    "songs": ("song_id",),
    "song_artists": ("song_id", "artist_position"),
    "playlist_entries": ("position",),
}

# (table, column) -> (referenced table, referenced column); null foreign keys are allowed.
FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("albums", "artist_id"): ("artists", "artist_id"),
    ("songs", "album_id"): ("albums", "album_id"),
    ("songs", "artist_id"): ("artists", "artist_id"),
    ("song_artists", "song_id"): ("songs", "song_id"),
    ("song_artists", "artist_id"): ("artists", "artist_id"),
    ("playlist_entries", "song_id"): ("songs", "song_id"),
}

# Column types of every stored table by asset name (CSV needs them to read back typed).
FILE_SCHEMAS: dict[str, pa.Schema] = {"playlist_csv": PLAYLIST_CSV, **TABLE_SCHEMAS}
