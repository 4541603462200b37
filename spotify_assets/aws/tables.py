"""The DynamoDB tables: the one definition of their names, keys, indexes and billing mode.

The serving IO manager, ``spotify-assets aws init`` and the infrastructure code all read it.
Pure data and functions: no boto3 and no Dagster here.
"""

from dataclasses import dataclass

import pyarrow as pa

from spotify_assets import constants
from spotify_assets.io_managers.serving import (
    ENTITY_KEYS,
    PLAYLIST_ID,
    POSITION,
    serving_schema,
)

# Bookkeeping beside the serving tables: each playlist's served week and snapshot digest, the
# version a write of its entries is conditioned on.
PLAYLIST_VERSIONS = "playlist_versions"
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
    # Every attribute: readers of songs by album want the songs, not keys to look up one by one.
    projection: str = "ALL"


@dataclass(frozen=True)
class Table:
    """One DynamoDB table; its name is the deployment's table prefix followed by ``name``."""

    name: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()

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
        attributes.update(
            {index.partition_key.name: index.partition_key.type for index in self.indexes}
        )
        request = {
            "TableName": self.table_name(prefix),
            "BillingMode": BILLING_MODE,
            "KeySchema": [{"AttributeName": key.name, "KeyType": kind} for key, kind in keys],
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
            ],
        }
        if self.indexes:
            request["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in self.indexes
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
    constants.PLAYLIST_ENTRIES: Table(
        constants.PLAYLIST_ENTRIES,
        _key(constants.PLAYLIST_ENTRIES, PLAYLIST_ID),
        sort_key=_key(constants.PLAYLIST_ENTRIES, POSITION),
    ),
}
ALL_TABLES: dict[str, Table] = {
    **SERVING_TABLES,
    PLAYLIST_VERSIONS: Table(PLAYLIST_VERSIONS, Key(PLAYLIST_ID, STRING)),
}
