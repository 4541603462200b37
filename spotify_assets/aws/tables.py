"""The DynamoDB tables: the one definition of their names, keys, indexes and billing mode.

The serving IO manager, ``spotify-assets aws init`` and the infrastructure code all read it.
Pure data and functions: no boto3 and no Dagster here.
"""

from dataclasses import dataclass

import pyarrow as pa

from spotify_assets import constants
from spotify_assets.io_managers.serving import (
    ENTITY_KEYS,
    ENTRY_ID,
    ORDER_KEY,
    PLAYLIST_ID,
    serving_schema,
)

# Bookkeeping beside the serving tables. Each playlist's version item: the served snapshot's
# week, version number, digest and snapshot id, the weeks each table has served and the keys
# waiting to be removed; readers read the version, then the entries visible at it.
PLAYLIST_VERSIONS = "playlist_versions"
WEEK_COLUMN = "week"
VERSION = "version"
# Entries staged by a write of more than one transaction: visible from FROM_VERSION (absent:
# always) until before TO_VERSION (absent: still).
FROM_VERSION = "from_version"
TO_VERSION = "to_version"
# Which keys' history holds a playlist: ``<table>#<key>`` under the playlist's id, and whether
# the key's last run of the playlist is open (reaches its newest served week).
PLAYLIST_KEYS = "playlist_keys"
ENTITY = "entity"
OPEN = "open"
# One writer at a time per entity table and per playlist's entries: an item per lease, held
# until it expires.
LEASES = "leases"
LEASE_NAME = "lease"
LEASE_TOKEN = "token"
LEASE_EXPIRES = "expires"
# On-demand capacity: weekly bursts of a few thousand writes, idle in between.
BILLING_MODE = "PAY_PER_REQUEST"
STRING = "S"
NUMBER = "N"


@dataclass(frozen=True)
class Key:
    """A key attribute and its DynamoDB type."""

    name: str
    type: str


@dataclass(frozen=True)
class Index:
    """A global secondary index. Items whose key attribute is null are not in it."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    local: bool = False  # a local secondary index: the table's partition key, this sort key
    # Every attribute: readers of songs by album want the songs, not keys to look up one by one.
    projection: str = "ALL"

    @property
    def keys(self) -> tuple[Key, Key | None]:
        return (self.partition_key, self.sort_key)


@dataclass(frozen=True)
class Table:
    """One DynamoDB table; its name is the deployment's table prefix followed by ``name``."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()  # global and local secondary indexes

    def table_name(self, prefix: str) -> str:
        return f"{prefix}{self.name}"

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(key.name for key in (self.partition_key, self.sort_key) if key)

    def create_table_request(self, prefix: str) -> dict:
        """The arguments of DynamoDB's CreateTable for this table."""
        keys = [(self.partition_key, "HASH")] + (
            [(self.sort_key, "RANGE")] if self.sort_key else []
        )
        attributes = {key.name: key.type for key, _ in keys}
        for index in self.indexes:
            attributes.update({key.name: key.type for key in index.keys if key is not None})
        request = {
            "TableName": self.table_name(prefix),
            "BillingMode": BILLING_MODE,
            "KeySchema": [{"AttributeName": key.name, "KeyType": kind} for key, kind in keys],
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
            ],
        }
        for kind, local in (("GlobalSecondaryIndexes", False), ("LocalSecondaryIndexes", True)):
            indexes = [index for index in self.indexes if index.local == local]
            if indexes:
                request[kind] = [
                    {
                        "IndexName": index.name,
                        "KeySchema": [
                            {"AttributeName": key.name, "KeyType": key_type}
                            for key, key_type in zip(index.keys, ("HASH", "RANGE"), strict=True)
                            if key is not None
                        ],
                        "Projection": {"ProjectionType": index.projection},
                    }
                    for index in indexes
                ]
        return request


def _key(table: str, column: str) -> Key:
    column_type = serving_schema(table).field(column).type
    return Key(column, NUMBER if pa.types.is_integer(column_type) else STRING)


def _by(table: str, column: str) -> Index:
    return Index(f"by_{column.removesuffix('_id')}", _key(table, column))


SERVING_TABLES: dict[str, Table] = {
    constants.ARTISTS: Table(constants.ARTISTS, _key(constants.ARTISTS, ENTITY_KEYS["artists"])),
    constants.ALBUMS: Table(
        constants.ALBUMS,
        _key(constants.ALBUMS, ENTITY_KEYS[constants.ALBUMS]),
        indexes=(_by(constants.ALBUMS, "artist_id"),),
    ),
    constants.SONGS: Table(
        constants.SONGS,
        _key(constants.SONGS, ENTITY_KEYS[constants.SONGS]),
        indexes=(_by(constants.SONGS, "album_id"), _by(constants.SONGS, "artist_id")),
    ),
    # Each playlist's own row (name, owner, total...), by its id.
    constants.PLAYLISTS: Table(constants.PLAYLISTS, _key(constants.PLAYLISTS, PLAYLIST_ID)),
    # An entry's key does not move with it: a move rewrites its order key, one item; a Query of
    # by_order returns the playlist in order.
    constants.PLAYLIST_ENTRIES: Table(
        constants.PLAYLIST_ENTRIES,
        _key(constants.PLAYLIST_ENTRIES, PLAYLIST_ID),
        sort_key=Key(ENTRY_ID, STRING),
        indexes=(
            Index("by_order", Key(PLAYLIST_ID, STRING), Key(ORDER_KEY, STRING), local=True),
            _by(constants.PLAYLIST_ENTRIES, "song_id"),
        ),
    ),
}
ALL_TABLES: dict[str, Table] = {
    **SERVING_TABLES,
    PLAYLIST_VERSIONS: Table(PLAYLIST_VERSIONS, Key(PLAYLIST_ID, STRING)),
    PLAYLIST_KEYS: Table(PLAYLIST_KEYS, Key(PLAYLIST_ID, STRING), sort_key=Key(ENTITY, STRING)),
    LEASES: Table(LEASES, Key(LEASE_NAME, STRING)),
}
