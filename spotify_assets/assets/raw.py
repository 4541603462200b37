"""Raw layer: the playlist exactly as Spotify returned it, and the same entries flattened to CSV.

A document is admitted before it replaces anything stored: it must be strict JSON and
normalize into tables that pass the normalized layer's blocking checks. A refused one is kept
under ``rejected/`` with the reason (see :mod:`spotify_assets.io_managers.object_store`).
"""

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.metadata import column_schema_metadata, table_metadata
from spotify_assets.grouped_runs import (
    by_partition,
    grouped_backfills,
    partition_output,
    run_partition_keys,
    week_and_playlist_of,
)
from spotify_assets.io_managers.object_store import (
    CSV,
    JSON,
    KEEPS_LATEST_POINTER,
    STORAGE_FORMAT,
    NotStrictJSON,
    strict_json,
)
from spotify_assets.partitions import week_and_playlist, week_playlist_partitions
from spotify_assets.sources import PlaylistSource, SourceError, StoredSnapshot
from spotify_assets.sources.spotify_settings import WORST_CASE_EXTRACTION_SECONDS
from spotify_assets.transforms import (
    PlaylistFormatError,
    flatten_playlist,
    normalize_playlist,
    playlist_entries_page,
    schema,
)
from spotify_assets.transforms.checks import blocking_check_problems, check_failures

PLAYLIST_JSON = dg.AssetKey([constants.RAW, "playlist_json"])
PLAYLIST_CSV = dg.AssetKey([constants.RAW, "playlist_csv"])
CSV_TABLE = PLAYLIST_CSV.path[-1]

# The concurrency pool of every step that calls Spotify: its limit (the instance's
# `concurrency: pools:`) is how many playlists are read at once, whatever the number of runs.
SPOTIFY_API_POOL = "spotify_api"

# A failure that can pass is tried again after about one minute, then about three: the live
# reader has already retried each request for seconds, so what is left is an outage of minutes.
# The jitter spreads the retries of the runs the weekly schedule starts together.
PLAYLIST_JSON_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def refusal(playlist: dict, week: str) -> str | None:
    """Why ``playlist`` may not be stored for ``week``, naming the playlist and the week, or None
    if it may: it is strict JSON, it normalizes and flattens, and its tables pass the checks."""
    try:
        page = playlist_entries_page(playlist, week=week)
        where = f"playlist {playlist['id']!r}, week {week}"
        strict_json(playlist)
        tables = normalize_playlist(playlist, week=week)
        flatten_playlist(playlist, week=week)
    except NotStrictJSON as error:
        return f"{where}: not strict JSON: {error}"
    except PlaylistFormatError as error:
        return str(error)  # names the playlist and the week already
    return check_failures(where, blocking_check_problems(tables, page.get("total")))


def longest_retry_waits(policy: dg.RetryPolicy) -> float:
    """The most a step with ``policy`` waits between its attempts, all retries together."""
    without_jitter = dg.RetryPolicy(
        max_retries=policy.max_retries, delay=policy.delay, backoff=policy.backoff
    )
    # PLUS_MINUS adds up to one base delay; FULL only shortens the wait.
    most_jitter_adds = (policy.delay or 0) if policy.jitter is dg.Jitter.PLUS_MINUS else 0
    return sum(
        without_jitter.calculate_delay(attempt) + most_jitter_adds
        for attempt in range(1, policy.max_retries + 1)
    )


# Every attempt at its longest and every wait between them.
PLAYLIST_JSON_WORST_CASE_SECONDS = (
    PLAYLIST_JSON_RETRY_POLICY.max_retries + 1
) * WORST_CASE_EXTRACTION_SECONDS + longest_retry_waits(PLAYLIST_JSON_RETRY_POLICY)


def latest_stored_snapshot(
    context: dg.AssetExecutionContext, playlist_id: str
) -> StoredSnapshot | None:
    """The newest stored ``raw/playlist_json`` of this playlist, any week, from the pointer the
    object store keeps beside the lake: one small read however many weeks are stored, and no
    event log. Its snapshot id now; its document only if the source asks for it, and only if the
    stored file is still the one the pointer was written for."""
    # The object store is this asset's IO manager, so a run always has it; a direct invocation
    # of the asset (tests) has none, and then there is nothing stored to reuse.
    object_store = getattr(context.resources, "object_store", None)
    if object_store is None:
        return None
    pointer = object_store.latest_snapshot(PLAYLIST_JSON, playlist_id)
    if pointer is None or not pointer.snapshot_id:
        return None
    return StoredSnapshot(
        week=pointer.week,
        snapshot_id=pointer.snapshot_id,
        load=lambda: object_store.load_latest_snapshot(PLAYLIST_JSON, playlist_id, pointer),
    )


def rejected(
    context: dg.AssetExecutionContext, reason: str, *, source: str | None, document: dict | None
) -> dg.Failure:
    """The failure of a refused document, once a copy of it is kept under ``rejected/``."""
    week, playlist_id = week_and_playlist(context)
    object_store = getattr(context.resources, "object_store", None)
    if object_store is None:  # a direct invocation (tests): nowhere to keep a copy
        return dg.Failure(
            description=f"{reason}. Nothing stored was replaced.", allow_retries=False
        )
    try:
        rejected_path = object_store.keep_rejected(
            PLAYLIST_JSON,
            playlist=playlist_id,
            week=week,
            reason=reason,
            source=source,
            document=document,
        )
    except Exception as error:  # a full disk, S3 refusing: the refusal itself still stands
        return dg.Failure(
            description=f"{reason}. Nothing stored was replaced; keeping a rejected copy "
            f"failed too ({error})",
            allow_retries=False,
        )
    return dg.Failure(
        description=f"{reason}. Nothing stored was replaced; the rejected document is kept "
        f"at {rejected_path}",
        metadata={"rejected_copy": dg.MetadataValue.path(str(rejected_path))},
        allow_retries=False,
    )


@dg.asset(
    key=PLAYLIST_JSON,
    group_name=constants.RAW,
    partitions_def=week_playlist_partitions,
    # No backfill policy: a backfill runs it one partition a run (it reads the source as it is
    # now, and one failing playlist-week must not hold up others).
    io_manager_key="object_store",
    metadata={STORAGE_FORMAT: JSON, KEEPS_LATEST_POINTER: True},
    kinds={"json"},
    pool=SPOTIFY_API_POOL,
    retry_policy=PLAYLIST_JSON_RETRY_POLICY,
)
def playlist_json(
    context: dg.AssetExecutionContext, playlist_source: PlaylistSource
) -> dg.Output[dict]:
    """The playlist exactly as Spotify returned it, every page of entries merged into its
    paging object. Written before anything is derived from it, so every later layer can be
    rebuilt from here. Each playlist's newest stored week is also kept in
    ``latest/playlist_json/playlist=<id>.json``, so telling whether it changed costs one small
    read, whatever the history. A document that is not strict JSON, does not normalize or fails
    the normalized tables' blocking checks replaces nothing: it is kept under ``rejected/`` with
    the reason, and the partition fails naming the playlist, the week and the cause. A failure that
    can pass (a Spotify outage, a playlist being edited) is retried a few minutes later; one that
    cannot (an expired token, a used-up quota, a missing playlist) fails at once."""
    week, playlist_id = week_and_playlist(context)
    try:
        extraction = playlist_source.extract_reusing(
            playlist_id, week, latest_stored_snapshot(context, playlist_id)
        )
    except SourceError as error:
        raise dg.Failure(description=str(error), allow_retries=error.transient) from None
    except RecursionError:
        reason = f"playlist {playlist_id!r}, week {week}: the document is nested too deeply to read"
        raise rejected(context, reason, source=None, document=None) from None
    playlist = extraction.playlist
    if reason := refusal(playlist, week):
        raise rejected(context, reason, source=extraction.source, document=playlist)
    page = playlist_entries_page(playlist, week=week)
    return dg.Output(
        playlist,
        metadata={
            "playlist_name": playlist.get("name") or "",
            "snapshot_id": playlist.get("snapshot_id") or "",
            "entry_count": len(page["items"]),
            "total": page.get("total"),
            "source": extraction.source,
            "request_count": extraction.request_count,
            **extraction.metadata,
        },
    )


# Unlike the JSON it reads, it is rebuilt from what is stored: many partitions a run.
@grouped_backfills
@dg.asset(
    key=PLAYLIST_CSV,
    group_name=constants.RAW,
    partitions_def=week_playlist_partitions,
    io_manager_key="object_store",
    metadata={STORAGE_FORMAT: CSV, **column_schema_metadata(CSV_TABLE, schema.PLAYLIST_CSV)},
    ins={"playlist": dg.AssetIn(PLAYLIST_JSON)},
    kinds={"csv"},
)
def playlist_csv(context: dg.AssetExecutionContext, playlist: dict):
    """One row per playlist entry, flattened: RFC 4180 CSV in UTF-8 with a header row. Artist
    ids are joined with ';' and artist names written as a JSON array. Rebuilt from the stored
    JSON, a backfill flattens up to a year of partitions a run, each in its own folder."""
    tables = {}
    for partition_key, document in by_partition(run_partition_keys(context), playlist).items():
        week, _ = week_and_playlist_of(partition_key)
        try:
            tables[partition_key] = flatten_playlist(document, week=week)
        except PlaylistFormatError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
    return partition_output(
        context, tables, {key: table_metadata(table, CSV_TABLE) for key, table in tables.items()}
    )
