"""Normalized layer: album, artist and song tables and the playlist's entries, as Parquet."""

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.metadata import (
    column_schema_metadata,
    glue_table_name,
    table_metadata,
    table_name_metadata,
)
from spotify_assets.assets.raw import PLAYLIST_JSON
from spotify_assets.io_managers.object_store import PARQUET, STORAGE_FORMAT
from spotify_assets.partitions import week_and_playlist, week_playlist_partitions
from spotify_assets.transforms import (
    PlaylistFormatError,
    normalize_playlist,
    playlist_entries_page,
    schema,
)
from spotify_assets.transforms.checks import (
    BLOCKING_CHECKS,
    CHECK_ENTRY_COUNT,
    CHECK_FOREIGN_KEYS,
    CHECK_PRIMARY_KEY,
    blocking_check_problems,
    check_failures,
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
    constants.PLAYLISTS: "The playlist itself that week, one row: name, description, owner, "
    "public, collaborative, snapshot id, `total` and followers. An empty snapshot is a row with "
    "`total` 0; a week never taken has no row.",
}


def normalized_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([constants.NORMALIZED, table])


CHECK_DESCRIPTIONS = {
    CHECK_PRIMARY_KEY: "Primary key ({}) unique, not null.",
    CHECK_FOREIGN_KEYS: "Every non-null foreign key names a row of this partition.",
    CHECK_ENTRY_COUNT: "As many entries as the playlist's `total`.",
}

CHECK_SPECS = [
    dg.AssetCheckSpec(
        check_name,
        asset=normalized_key(table),
        blocking=True,
        description=CHECK_DESCRIPTIONS[check_name].format(
            ", ".join(schema.PRIMARY_KEYS[table]) or "the partition: one row"
        ),
    )
    for table, check_name in BLOCKING_CHECKS
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
                **table_name_metadata(glue_table_name(table)),
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
    """Splits one raw playlist snapshot into the normalized tables and checks them before they
    are written: a partition failing a blocking check reports its check results and publishes
    nothing, so readers of the lake and the serving tables never see unchecked data."""
    week, playlist_id = week_and_playlist(context)
    try:
        tables = normalize_playlist(playlist, week=week)
    except PlaylistFormatError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    problems = blocking_check_problems(
        tables, playlist_entries_page(playlist, week=week).get("total")
    )
    check_results = [
        dg.AssetCheckResult(
            asset_key=normalized_key(table),
            check_name=check_name,
            passed=not found,
            metadata={"problems": "; ".join(found) or "none"},
        )
        for (table, check_name), found in problems.items()
    ]
    if failures := check_failures(f"playlist {playlist_id!r}, week {week}", problems):
        # The results still reach the UI; without outputs nothing stored is replaced.
        yield from check_results
        raise dg.Failure(
            description=f"{failures}. Nothing was written: the stored tables are as they were.",
            allow_retries=False,
        )
    for table, value in tables.items():
        yield dg.Output(
            value, output_name=_output_name(table), metadata=table_metadata(value, table)
        )
    yield from check_results


def _output_name(table: str) -> str:
    return normalized_key(table).to_python_identifier()
