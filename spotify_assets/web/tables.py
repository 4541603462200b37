"""The serving tables as the read API sees them: names, keys, indexes and column kinds.

The schema's one definition is :mod:`spotify_assets.transforms.schema` with the DynamoDB tables in
:mod:`spotify_assets.aws.tables`; both import pyarrow and Dagster, which the Lambda does not
carry. This is the read side's copy, in plain Python, and a test checks it against them.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from spotify_assets import constants

STRING = "string"
INTEGER = "integer"
BOOLEAN = "boolean"
TIMESTAMP = "timestamp"  # stored as epoch milliseconds, returned as ISO 8601 in UTC

ARTISTS, ALBUMS, SONGS = constants.ARTISTS, constants.ALBUMS, constants.SONGS
PLAYLISTS, PLAYLIST_ENTRIES = constants.PLAYLISTS, constants.PLAYLIST_ENTRIES
PLAYLIST_VERSIONS = "playlist_versions"
PLAYLIST_ID = "playlist_id"
POSITION = "position"
WEEK = "week"
VERSION = "version"
SNAPSHOT_ID = "snapshot_id"
# Entries: the playlist's order is their order keys' (index ENTRIES_IN_ORDER in DynamoDB);
# entries staged for another version carry FROM_VERSION or TO_VERSION.
ORDER_KEY = "order_key"
ENTRIES_IN_ORDER = "by_order"
FROM_VERSION = "from_version"
TO_VERSION = "to_version"

COLUMNS: dict[str, dict[str, str]] = {
    ARTISTS: {
        "artist_id": STRING,
        "artist_name": STRING,
        "external_url": STRING,
        "uri": STRING,
    },
    ALBUMS: {
        "album_id": STRING,
        "name": STRING,
        "release_date": STRING,
        "release_date_precision": STRING,
        "release_year": INTEGER,
        "album_type": STRING,
        "total_tracks": INTEGER,
        "artist_id": STRING,
        "url": STRING,
    },
    SONGS: {
        "song_id": STRING,
        "song_name": STRING,
        "duration_ms": INTEGER,
        "url": STRING,
        "popularity": INTEGER,
        "song_added": TIMESTAMP,
        "album_id": STRING,
        "artist_id": STRING,
        "isrc": STRING,
        "explicit": BOOLEAN,
        "disc_number": INTEGER,
        "track_number": INTEGER,
    },
    # Each playlist's own row, from its newest week served.
    PLAYLISTS: {
        "playlist_id": STRING,
        "name": STRING,
        "description": STRING,
        "owner_id": STRING,
        "owner_name": STRING,
        "public": BOOLEAN,
        "collaborative": BOOLEAN,
        "snapshot_id": STRING,
        "total": INTEGER,
        "followers": INTEGER,
        "url": STRING,
    },
    # Without playlist_id and snapshot_id: the API gives those once per playlist. The position
    # is not stored: it is the entry's place in the order of the order keys.
    PLAYLIST_ENTRIES: {
        "position": INTEGER,
        "item_type": STRING,
        "song_id": STRING,
        "playable_song_id": STRING,
        "uri": STRING,
        "name": STRING,
        "duration_ms": INTEGER,
        "added_at": TIMESTAMP,
        "added_by": STRING,
    },
}
# The tables read by key (get_many), and their key.
ENTITY_KEYS = {ARTISTS: "artist_id", ALBUMS: "album_id", SONGS: "song_id", PLAYLISTS: PLAYLIST_ID}
# (table, column) -> the DynamoDB global secondary index on that column.
INDEXES = {
    (SONGS, "album_id"): "by_album",
    (SONGS, "artist_id"): "by_artist",
    (ALBUMS, "artist_id"): "by_artist",
}


def table_name(prefix: str, table: str) -> str:
    """A serving table's name in DynamoDB: the deployment's prefix, then the table."""
    return f"{prefix}{table}"


def iso_timestamp(epoch_ms: int) -> str:
    """``2026-09-07T06:36:47Z``, or with milliseconds when there are any."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    text = moment.isoformat(timespec="milliseconds" if epoch_ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


def _value(kind: str, value):
    if value is None:
        return None
    if isinstance(value, Decimal):  # DynamoDB's numbers
        value = int(value)
    if kind == BOOLEAN:
        return bool(value)  # SQLite keeps booleans as 0 and 1
    if kind == TIMESTAMP:
        return iso_timestamp(int(value))
    return value


def api_row(table: str, stored: Mapping) -> dict:
    """A stored row (SQLite's columns or a deserialized DynamoDB item) as the API returns it:
    the table's columns in order, absent ones as null, timestamps as ISO 8601 text."""
    return {name: _value(kind, stored.get(name)) for name, kind in COLUMNS[table].items()}
