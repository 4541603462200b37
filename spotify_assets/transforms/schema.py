"""Column names, types and meanings of every table: the one place the lake's schema is written
down. The descriptions are what the Dagster UI shows beside each column.

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

ARTISTS_DESCRIPTIONS = {
    "artist_id": "Spotify's id of the artist (primary key).",
    "artist_name": "The artist's name as Spotify shows it.",
    "external_url": "The artist's page on open.spotify.com.",
    "uri": "The artist's Spotify URI (spotify:artist:<id>).",
}

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

ALBUMS_DESCRIPTIONS = {
    "album_id": "Spotify's id of the album (primary key).",
    "name": "The album's title.",
    "release_date": "The release date as Spotify gives it: YYYY, YYYY-MM or YYYY-MM-DD; "
    "'0000' when Spotify does not know it.",
    "release_date_precision": "How precise release_date is: year, month or day.",
    "release_year": "The year of release_date; null when Spotify does not know it ('0000') or "
    "release_date is not a real date (such as '2026-13-45').",
    "album_type": "album, single or compilation.",
    "total_tracks": "How many tracks the album has (all of them, not only the playlist's).",
    "artist_id": "The album's first credited artist (artists.artist_id).",
    "url": "The album's page on open.spotify.com.",
}

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

SONGS_DESCRIPTIONS = {
    "song_id": "Spotify's id of the track the playlist holds (primary key); for a track Spotify "
    "relinked, the one linked_from names, not the playable one.",
    "song_name": "The track's title.",
    "duration_ms": "The track's length in milliseconds.",
    "url": "The page on open.spotify.com of the track the playlist holds (song_id).",
    "popularity": "Spotify's popularity score, 0 to 100; null when Spotify leaves it out, as it "
    "does for apps in Development Mode.",
    "song_added": "When the track was first added to the playlist (UTC): the earliest added_at "
    "of its entries in the snapshot.",
    "album_id": "The track's album (albums.album_id).",
    "artist_id": "The track's first credited artist (artists.artist_id); song_artists holds "
    "every credited artist.",
    "isrc": "The track's International Standard Recording Code, when Spotify has one.",
    "explicit": "True when the track is marked explicit.",
    "disc_number": "The disc of the album the track is on (1 for most albums).",
    "track_number": "The track's number on its disc.",
}

SONG_ARTISTS = pa.schema(
    [
        pa.field("song_id", pa.string(), nullable=False),
        pa.field("artist_position", pa.int64(), nullable=False),
        pa.field("artist_id", pa.string(), nullable=False),
    ]
)

SONG_ARTISTS_DESCRIPTIONS = {
    "song_id": "The track (songs.song_id).",
    "artist_position": "The artist's place in the track's credits: 0 is the lead artist.",
    "artist_id": "The credited artist (artists.artist_id).",
}

# In the lake, playlist_id and week come from the folder names (playlist=..., week=...).
PLAYLIST_ENTRIES = pa.schema(
    [
        pa.field("position", pa.int64(), nullable=False),
        pa.field("item_type", pa.string(), nullable=False),
        pa.field("song_id", pa.string()),
        pa.field("playable_song_id", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("name", pa.string()),
        pa.field("duration_ms", pa.int64()),
        pa.field("added_at", TIMESTAMP),
        pa.field("added_by", pa.string()),
        pa.field("snapshot_id", pa.string()),
    ]
)

PLAYLIST_ENTRIES_DESCRIPTIONS = {
    "position": "The entry's place in the playlist, counting from 0: the key, with the "
    "playlist (and the week, in the lake).",
    "item_type": "What the entry plays: track (a Spotify track), episode (a podcast episode), "
    "local (a local file) or unavailable (an item Spotify no longer returns).",
    "song_id": "The playlist's own track (songs.song_id): for a track Spotify relinked for the "
    "reader's market, the one linked_from names; null for episodes, local files and unavailable "
    "items.",
    "playable_song_id": "The Spotify track played in the playlist's own track's place when "
    "Spotify relinked it for the reader's market (the entry's item, whose linked_from is "
    "song_id); null when the entry was not relinked.",
    "uri": "The Spotify URI of the entry's own item (spotify:track:..., spotify:episode:..., "
    "spotify:local:...), for a relinked track the playlist's own one, so snapshots read from "
    "different markets compare alike; null when Spotify returns no item.",
    "name": "The title of what the entry plays: a track, an episode or a local file.",
    "duration_ms": "Its length in milliseconds.",
    "added_at": "When the entry was added to the playlist (UTC); null when Spotify does not say.",
    "added_by": "The Spotify user id of whoever added the entry; null when Spotify does not say "
    "(old entries, deleted accounts).",
    "snapshot_id": "Spotify's version of the playlist when it was read: the same on every entry "
    "of the snapshot, and different after any edit.",
}

# One row per snapshot, keyed by its partition (in the lake, the folders playlist=... and
# week=...): the playlist's own attributes that week. An empty snapshot is a row with total 0;
# a week never taken has no file, so no row.
PLAYLISTS = pa.schema(
    [
        pa.field("name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("owner_id", pa.string()),
        pa.field("owner_name", pa.string()),
        pa.field("public", pa.bool_()),
        pa.field("collaborative", pa.bool_()),
        pa.field("snapshot_id", pa.string()),
        pa.field("total", pa.int64()),
        pa.field("followers", pa.int64()),
        pa.field("url", pa.string()),
    ]
)

PLAYLISTS_DESCRIPTIONS = {
    "name": "The playlist's name that week.",
    "description": "The playlist's description that week, HTML entities decoded (Spotify sends "
    "'&#x27;' for an apostrophe); empty or null when it has none.",
    "owner_id": "The Spotify user id of the playlist's owner.",
    "owner_name": "The owner's display name; null when Spotify leaves it out.",
    "public": "True when the playlist shows on the owner's profile; null when Spotify does not "
    "say.",
    "collaborative": "True when others may edit the playlist.",
    "snapshot_id": "Spotify's version of the playlist when it was read; different after any edit "
    "(of the entries, the name, the description or the cover).",
    "total": "How many entries the playlist had, as Spotify counts them (tracks, episodes, local "
    "files and unavailable items): 0 for an empty snapshot.",
    "followers": "How many users follow the playlist; null for apps in Development Mode, which "
    "Spotify no longer tells.",
    "url": "The playlist's page on open.spotify.com.",
}

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

PLAYLIST_CSV_DESCRIPTIONS = {
    "position": "The entry's place in the playlist, counting from 0.",
    "item_type": "What the entry plays: track, episode, local or unavailable.",
    "added_at": "When the entry was added, as Spotify wrote it (ISO 8601, UTC).",
    "added_by": "The Spotify user id of whoever added the entry, when Spotify says.",
    "is_local": "True for a local file (a file on the owner's computer, not on Spotify).",
    "item_id": "The Spotify id of the track or episode; null for local files and unavailable "
    "items.",
    "uri": "The Spotify URI of the track, episode or local file.",
    "name": "The title of the track, episode or local file.",
    "duration_ms": "Its length in milliseconds.",
    "explicit": "True when marked explicit.",
    "disc_number": "A track's disc on its album.",
    "track_number": "A track's number on its disc.",
    "isrc": "A track's International Standard Recording Code.",
    "popularity": "Spotify's popularity score, 0 to 100, when Spotify gives it.",
    "artist_ids": "The credited artists' Spotify ids, in credit order, joined with ';'.",
    "artist_names": "The credited artists' names, in credit order, as a JSON array.",
    "album_id": "The Spotify id of the track's album.",
    "album_name": "The title of the track's album.",
    "album_type": "album, single or compilation.",
    "album_release_date": "The album's release date as Spotify gives it: YYYY, YYYY-MM or "
    "YYYY-MM-DD.",
    "album_release_date_precision": "How precise album_release_date is: year, month or day.",
    "album_artist_ids": "The album's artists' Spotify ids, in credit order, joined with ';'.",
    "show_id": "An episode's podcast (show) id.",
    "show_name": "An episode's podcast name.",
    "url": "The item's page on open.spotify.com.",
}

# analytics/weekly_summary: one row of the `weekly_summary` view, stored as JSON (`week` as text).
WEEKLY_SUMMARY = pa.schema(
    [
        pa.field("playlist", pa.string()),
        pa.field("week", pa.string()),
        pa.field("entries", pa.int64()),
        pa.field("hours", pa.float64()),
        pa.field("added", pa.int64()),
        pa.field("removed", pa.int64()),
        pa.field("turnover", pa.float64()),
        pa.field("distinct_artists", pa.int64()),
    ]
)

WEEKLY_SUMMARY_DESCRIPTIONS = {
    "entries": "Entries in the snapshot: tracks, episodes, local files and unavailable items.",
    "hours": "The entries' total length in hours, to two decimals.",
    "added": "Items (by URI) in this snapshot and not in the playlist's previous one in the "
    "lake; null for its first snapshot.",
    "removed": "Items in the previous snapshot and not in this one; null for the first.",
    "turnover": "The share of the items of both snapshots that changed, (added + removed) / "
    "all: 0 when unchanged, 1 when all new; null for the first snapshot.",
    "distinct_artists": "Different artists credited on the snapshot's tracks (every credited "
    "artist, not only the leads).",
}

# Columns a table gets from where it is stored, not from its files: the lake's folders
# (week=..., playlist=...), and the serving store's key of a playlist's entries.
PARTITION_COLUMN_DESCRIPTIONS = {
    "week": "The snapshot's week, by its Monday (ISO date); in the lake, the folder week=<date>.",
    "playlist": "The playlist's Spotify id; in the lake, the folder playlist=<id>.",
    "playlist_id": "The playlist's Spotify id: in the serving store, the key of playlists (each "
    "playlist's newest row) and, with position, of playlist_entries (its newest snapshot).",
}

TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "artists": ARTISTS,
    "albums": ALBUMS,
    "songs": SONGS,
    "song_artists": SONG_ARTISTS,
    "playlist_entries": PLAYLIST_ENTRIES,
    "playlists": PLAYLISTS,
}

# Within a partition; the lake adds the partition (week, playlist). The playlists table's key
# is the partition alone: one row per snapshot.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "artists": ("artist_id",),
    "albums": ("album_id",),
    "songs": ("song_id",),
    "song_artists": ("song_id", "artist_position"),
    "playlist_entries": ("position",),
    "playlists": (),
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

# What each column holds, by table name; every column of FILE_SCHEMAS and WEEKLY_SUMMARY has one.
COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "artists": ARTISTS_DESCRIPTIONS,
    "albums": ALBUMS_DESCRIPTIONS,
    "songs": SONGS_DESCRIPTIONS,
    "song_artists": SONG_ARTISTS_DESCRIPTIONS,
    "playlist_entries": PLAYLIST_ENTRIES_DESCRIPTIONS,
    "playlists": PLAYLISTS_DESCRIPTIONS,
    "playlist_csv": PLAYLIST_CSV_DESCRIPTIONS,
    "weekly_summary": WEEKLY_SUMMARY_DESCRIPTIONS,
}


def column_descriptions(table: str) -> dict[str, str]:
    """What each column of a table holds, the partition columns (week, playlist, playlist_id)
    included, by column name."""
    return {**PARTITION_COLUMN_DESCRIPTIONS, **COLUMN_DESCRIPTIONS[table]}
