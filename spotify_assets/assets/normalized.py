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
from spotify_assets.grouped_runs import (
    by_partition,
    grouped_backfills,
    partition_label,
    partition_output,
    run_partition_keys,
    week_and_playlist_of,
)
from spotify_assets.io_managers.object_store import PARQUET, STORAGE_FORMAT
from spotify_assets.partitions import week_playlist_partitions
from spotify_assets.transforms import PlaylistFormatError, normalize_playlist, schema
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


# What the tables are built from: the stored JSON's bytes, which the object store hands over
# unparsed so that normalizing reads them once and builds only what it takes, or the document
# already parsed (as a direct invocation passes it).
PLAYLIST_DOCUMENT = dg.PythonObjectDagsterType((bytes, dict), name="PlaylistDocument")


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


@grouped_backfills
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
def normalized_tables(context: dg.AssetExecutionContext, playlist: PLAYLIST_DOCUMENT):
    """Splits each raw playlist snapshot of the run into the normalized tables and checks them
    before they are written: a partition failing a blocking check reports its check results and
    publishes nothing, so readers of the lake and the serving tables never see unchecked data.

    A backfill runs up to a year of partitions at once (one playlist's weeks, or one week's
    playlists), each written to its own folder. If one of them fails a check, the run writes
    none: the failure and the check results name the partitions that failed."""
    partition_keys = run_partition_keys(context)
    tables_by_partition, problems_by_partition = {}, {}
    for partition_key, document in by_partition(partition_keys, playlist).items():
        week, _ = week_and_playlist_of(partition_key)
        try:
            tables = normalize_playlist(document, week=week)
        except PlaylistFormatError as error:
            # A document too broken to name its playlist is named by its partition.
            message = str(error).removeprefix(f"week {week}: ")
            if not message.startswith("playlist "):
                message = f"{partition_label(partition_key)}: {message}"
            raise dg.Failure(description=message, allow_retries=False) from None
        [total] = tables[constants.PLAYLISTS]["total"].to_pylist()
        tables_by_partition[partition_key] = tables
        problems_by_partition[partition_key] = blocking_check_problems(tables, total)
    check_results = _check_results(problems_by_partition)
    failures = [
        failure
        for partition_key, problems in problems_by_partition.items()
        if (failure := check_failures(partition_label(partition_key), problems))
    ]
    if failures:
        # The results still reach the UI; without outputs nothing stored is replaced.
        yield from check_results
        raise dg.Failure(
            description=f"{'; '.join(failures)}. Nothing was written: the stored tables are as "
            "they were.",
            allow_retries=False,
        )
    for table in constants.NORMALIZED_TABLES:
        values = {key: tables[table] for key, tables in tables_by_partition.items()}
        yield partition_output(
            context,
            values,
            {key: table_metadata(value, table) for key, value in values.items()},
            output_name=_output_name(table),
        )
    yield from check_results


def _check_results(
    problems_by_partition: dict[str, dict[tuple[str, str], list[str]]],
) -> list[dg.AssetCheckResult]:
    """One result per blocking check for the whole run: Dagster 1.13 records one evaluation per
    check and step, whatever the partitions. Over several partitions, each problem names its
    partition."""
    several = len(problems_by_partition) > 1
    results = []
    for table, check_name in BLOCKING_CHECKS:
        found = {
            partition_key: problems[table, check_name]
            for partition_key, problems in problems_by_partition.items()
            if problems[table, check_name]
        }
        if several:
            described = [f"{partition_label(key)}: {'; '.join(found[key])}" for key in found]
        else:
            described = [problem for problems in found.values() for problem in problems]
        metadata = {"problems": "; ".join(described) or "none"}
        if several:
            metadata["partitions_checked"] = len(problems_by_partition)
            metadata["partitions_failed"] = len(found)
        results.append(
            dg.AssetCheckResult(
                asset_key=normalized_key(table),
                check_name=check_name,
                passed=not found,
                metadata=metadata,
            )
        )
    return results


def _output_name(table: str) -> str:
    return normalized_key(table).to_python_identifier()
