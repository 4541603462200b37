"""Names that other tools rely on (see design.md, the parts marked contract)."""

# Environment variables.
ENV_DEPLOYMENT = "SPOTIFY_ASSETS_ENV"
ENV_DATA_DIR = "SPOTIFY_ASSETS_DATA_DIR"
ENV_S3_BUCKET = "SPOTIFY_ASSETS_S3_BUCKET"
ENV_S3_PREFIX = "SPOTIFY_ASSETS_S3_PREFIX"
ENV_DYNAMODB_TABLE_PREFIX = "SPOTIFY_ASSETS_DYNAMODB_TABLE_PREFIX"
ENV_REPLAY_DIR = "SPOTIFY_REPLAY_DIR"
ENV_PLAYLISTS = "SPOTIFY_PLAYLISTS"
ENV_ADD_OWN_PLAYLISTS = "SPOTIFY_ASSETS_ADD_OWN_PLAYLISTS"

# Asset groups.
RAW = "raw"
NORMALIZED = "normalized"
SERVING = "serving"

# Table names: normalized Parquet tables and the serving tables built from them.
ARTISTS = "artists"
ALBUMS = "albums"
SONGS = "songs"
SONG_ARTISTS = "song_artists"
PLAYLIST_ENTRIES = "playlist_entries"
PLAYLISTS = "playlists"
NORMALIZED_TABLES = (ARTISTS, ALBUMS, SONGS, SONG_ARTISTS, PLAYLIST_ENTRIES, PLAYLISTS)
SERVING_TABLES = (ARTISTS, ALBUMS, SONGS, PLAYLISTS, PLAYLIST_ENTRIES)

# Partition dimensions; the lake's Hive folders use the same names.
WEEK = "week"
PLAYLIST = "playlist"

# The first week with partitions for the live source (replay starts at its first recording).
# Weeks start on Monday.
FIRST_WEEK = "2026-01-05"

# The serving store's file in the data dir (local deployment).
SQLITE_FILE_NAME = "serving.sqlite"
