"""Raw layer: the playlist exactly as Spotify returned it, and the same entries flattened to CSV."""

import dagster as dg

from spotify_assets import constants
from spotify_assets.assets.metadata import table_metadata
from spotify_assets.io_managers.object_store import CSV, JSON, STORAGE_FORMAT
from spotify_assets.partitions import week_and_playlist, week_playlist_partitions
from spotify_assets.sources import PlaylistSource, SourceError
from spotify_assets.transforms import PlaylistFormatError, flatten_playlist, playlist_entries_page

PLAYLIST_JSON = dg.AssetKey([constants.RAW, "playlist_json"])
PLAYLIST_CSV = dg.AssetKey([constants.RAW, "playlist_csv"])


@dg.asset(
    key=PLAYLIST_JSON,
    group_name=constants.RAW,
    partitions_def=week_playlist_partitions,
    io_manager_key="object_store",
    metadata={STORAGE_FORMAT: JSON},
    kinds={"json"},
)
def playlist_json(
    context: dg.AssetExecutionContext, playlist_source: PlaylistSource
) -> dg.Output[dict]:
    """The playlist exactly as Spotify returned it, every page of entries merged into its
    paging object. Written before anything is derived from it, so every later layer can be
    rebuilt from here."""
    week, playlist_id = week_and_playlist(context)
    try:
        extraction = playlist_source.extract(playlist_id, week)
    except SourceError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    playlist = extraction.playlist
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


@dg.asset(
    key=PLAYLIST_CSV,
    group_name=constants.RAW,
    partitions_def=week_playlist_partitions,
    io_manager_key="object_store",
    metadata={STORAGE_FORMAT: CSV},
    ins={"playlist": dg.AssetIn(PLAYLIST_JSON)},
    kinds={"csv"},
)
def playlist_csv(context: dg.AssetExecutionContext, playlist: dict):
    """One row per playlist entry, flattened: RFC 4180 CSV in UTF-8 with a header row. Artist
    ids are joined with ';' and artist names written as a JSON array."""
    week, _ = week_and_playlist(context)
    try:
        table = flatten_playlist(playlist, week=week)
    except PlaylistFormatError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    return dg.Output(table, metadata=table_metadata(table))
