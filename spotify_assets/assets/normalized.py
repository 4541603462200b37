"""Normalized layer: album, artist and song tables and the playlist's entries, as Parquet."""

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.metadata import column_schema_metadata, table_metadata
from spotify_assets.assets.raw import PLAYLIST_JSON
from spotify_assets.io_managers.object_store import PARQUET, STORAGE_FORMAT
from spotify_assets.partitions import week_and_playlist, week_playlist_partitions
from spotify_assets.transforms import (
    PlaylistFormatError,
    checks,
    normalize_playlist,
    playlist_entries_page,
    schema,
)

DESCRIPTIONS = {
    constants.ARTISTS: "Every artist credited on a track or album of the playlist snapshot.",
    constants.ALBUMS: "Albums of the snapshot's tracks; `artist_id` is the album's first artist, "
    "`release_year` is null for the unknown date '0000'.",
    constants.SONGS: "Spotify tracks of the snapshot, one row each; `song_added` is the earliest "
    "`added_at` in the snapshot, `popularity` is null for apps that no longer get it.",
    constants.SONG_ARTISTS: "Every credited artist of every song, in order (position 0 first).",
    constants.PLAYLIST_ENTRIES: "One row per position of the playlist, including local files, "
    "episodes and removed tracks (`item_type`), so positions match the playlist.",
}


def normalized_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([constants.NORMALIZED, table])


CHECK_PRIMARY_KEY = "primary_key_unique_and_not_null"
CHECK_FOREIGN_KEYS = "foreign_keys_resolve"
CHECK_ENTRY_COUNT = "entries_match_playlist_total"

CHECK_SPECS = [
    *(
        dg.AssetCheckSpec(
            CHECK_PRIMARY_KEY,
            asset=normalized_key(table),
            blocking=True,
            description=f"Primary key ({', '.join(schema.PRIMARY_KEYS[table])}) unique, not null.",
        )
        for table in constants.NORMALIZED_TABLES
    ),
    *(
        dg.AssetCheckSpec(
            CHECK_FOREIGN_KEYS,
            asset=normalized_key(table),
            blocking=True,
            description="Every non-null foreign key names a row of this partition.",
        )
        for table in sorted({source for source, _ in schema.FOREIGN_KEYS})
    ),
    dg.AssetCheckSpec(
        CHECK_ENTRY_COUNT,
        asset=normalized_key(constants.PLAYLIST_ENTRIES),
        blocking=True,
        description="As many entries as the playlist's `total`.",
    ),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            normalized_key(table),
            group_name=constants.NORMALIZED,
            deps=[PLAYLIST_JSON],
            description=DESCRIPTIONS[table],
            metadata={
                STORAGE_FORMAT: PARQUET,
                **column_schema_metadata(table, schema.TABLE_SCHEMAS[table]),
            },
            kinds={"parquet"},
        ).with_io_manager_key("object_store")
        for table in constants.NORMALIZED_TABLES
    ],
    check_specs=CHECK_SPECS,
    partitions_def=week_playlist_partitions,
    ins={"playlist": dg.AssetIn(PLAYLIST_JSON)},
)
def normalized_tables(context: dg.AssetExecutionContext, playlist: dict):
    """Splits one raw playlist snapshot into the normalized tables and checks them. The checks
    are blocking: a partition with a broken key never reaches the serving tables."""
    week, _ = week_and_playlist(context)
    try:
        tables = normalize_playlist(playlist, week=week)
    except PlaylistFormatError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    for table, value in tables.items():
        yield dg.Output(
            value, output_name=_output_name(table), metadata=table_metadata(value, table)
        )
    total = playlist_entries_page(playlist, week=week).get("total")
    for spec in CHECK_SPECS:
        table = spec.asset_key.path[-1]
        if spec.name == CHECK_PRIMARY_KEY:
            problems = checks.primary_key_problems(table, tables[table])
        elif spec.name == CHECK_FOREIGN_KEYS:
            problems = checks.foreign_key_problems(table, tables)
        else:
            problems = checks.entry_count_problems(tables[table], total)
        yield dg.AssetCheckResult(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=not problems,
            metadata={"problems": "; ".join(problems) or "none"},
        )


def _output_name(table: str) -> str:
    return normalized_key(table).to_python_identifier()
