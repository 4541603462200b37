"""What the dashboard reads, built from view results: small JSON files per view and playlist.

Pure functions: rows in, file names and bytes out. The dashboard asset writes them to the object
store under ``dashboard/``, so a page view reads a few small files and never scans the lake::

    dashboard/index.json                  the playlists (name, latest week and summary), the views
    dashboard/<playlist>/<view>.json      one view's first 1,000 rows for one playlist
    dashboard/<playlist>/<view>.<n>.json  the next 1,000 from row n, for longer views

Each view file holds ``total_rows``, the view's length, and ``offset``, its first row's. The
layout is the read API's (:mod:`spotify_assets.web.dashboard_files`).

One playlist never takes the dashboard down for the others: the rows of a lake folder whose name
is not a playlist id are skipped with a warning (:func:`dashboard_playlists`), and a view that
fails for one playlist gets, for that playlist alone, a file with no rows and the ``error``
(:func:`dashboard_results`).
"""

import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import duckdb

from spotify_assets import constants
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import AthenaQueryError
from spotify_assets.sql.lake import Lake
from spotify_assets.sql.result import QueryResult
from spotify_assets.web.dashboard_files import (
    DASHBOARD_FOLDER,
    INDEX_FILE,
    VIEW_PAGE_ROWS,
    view_file,
)

SUMMARY_VIEW = "weekly_summary"
# Metrics of the weekly summary, shown as each partition's metadata.
SUMMARY_METRICS = ("entries", "hours", "added", "removed", "turnover", "distinct_artists")
# What the read API takes for a playlist id, and so a safe path segment.
_PLAYLIST_ID = re.compile(r"[A-Za-z0-9]+")
QUERY_ERRORS = (duckdb.Error, AthenaQueryError)
LAKE_PLAYLISTS_QUERY = f"SELECT DISTINCT playlist FROM {constants.PLAYLIST_ENTRIES}"

logger = logging.getLogger(__name__)


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 JSON with sorted keys: the same rows always give the same bytes."""
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


def rows_by_playlist(result: QueryResult) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in result.records():
        grouped.setdefault(record["playlist"], []).append(record)
    return grouped


def latest_weeks(results: dict[str, QueryResult]) -> dict[str, str]:
    """Each playlist's newest week in any view: its latest snapshot (ISO dates sort as text)."""
    latest: dict[str, str] = {}
    for result in results.values():
        records = result.records() if "week" in result.columns else []
        for record in records:
            if record["week"]:
                playlist = record["playlist"]
                latest[playlist] = max(latest.get(playlist, ""), record["week"])
    return latest


def playlist_name(snapshot: bytes | None) -> str | None:
    """The name in a raw playlist snapshot (``raw/playlist_json``), or None without one."""
    playlist = json.loads(snapshot) if snapshot is not None else None
    name = playlist.get("name") if isinstance(playlist, dict) else None
    return name if isinstance(name, str) else None


def indexed_names(index: bytes | None) -> dict[str, tuple[str, str | None]]:
    """Each playlist's latest week and its name in that week, as an index file holds them."""
    playlists = json.loads(index)["playlists"] if index is not None else []
    return {item["playlist"]: (item["week"], item["name"]) for item in playlists if "week" in item}


def dashboard_results(
    lake: Lake, views: Iterable[str]
) -> tuple[dict[str, QueryResult], dict[str, dict[str, str]]]:
    """Each view's rows (every playlist), and each view's failures: the error, by playlist.

    One query per view over the whole lake. A view whose query fails runs again playlist by
    playlist, so a broken partition costs only its own playlist that view (or every playlist,
    for a view that reads them all). Nothing answering at all (the engine down) fails it."""
    queries = {name: catalog.view_query(name) for name in views}
    try:
        return lake.query_many(queries), {}
    except QUERY_ERRORS:
        pass  # found again below, view by view and playlist by playlist
    playlists = [record["playlist"] for record in lake.query(LAKE_PLAYLISTS_QUERY).records()]
    results: dict[str, QueryResult] = {}
    failures: dict[str, dict[str, str]] = {}
    for name, query in queries.items():
        try:
            results[name] = lake.query(query)
        except QUERY_ERRORS:
            results[name], failures[name] = _view_by_playlist(lake, name, playlists)
    return results, {name: errors for name, errors in failures.items() if errors}


def _view_by_playlist(
    lake: Lake, view: str, playlists: list[str]
) -> tuple[QueryResult, dict[str, str]]:
    """The view's rows for each playlist it answers for, and the error for each other one."""
    answers, errors = [], {}
    for playlist in playlists:
        try:
            answers.append(lake.query(catalog.view_query(view, playlist=playlist)))
        except QUERY_ERRORS as error:
            logger.warning(f"dashboard: view {view} failed for playlist {playlist}: {error}")
            errors[playlist] = str(error)
    columns = answers[0].columns if answers else []
    return QueryResult(columns, [row for answer in answers for row in answer.rows]), errors


def dashboard_playlists(found: Iterable[str]) -> list[str]:
    """The playlists ``found`` in the lake, sorted, but for those whose name is not a playlist
    id (a stray folder): a warning each, and no files."""
    found = set(found)
    for stray in sorted(p for p in found if not _PLAYLIST_ID.fullmatch(p)):
        logger.warning(
            f"dashboard: skipped the lake's {constants.PLAYLIST}={stray} folders: "
            f"{stray!r} is not a playlist id (letters and digits)"
        )
    return sorted(p for p in found if _PLAYLIST_ID.fullmatch(p))


def dashboard_files(
    results: dict[str, QueryResult],
    names: Mapping[str, str | None],
    failures: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, bytes]:
    """File paths under ``dashboard/`` and their bytes, from each view's rows (every playlist),
    each playlist's ``names`` (in its latest week) and each view's ``failures`` (the error, by
    playlist; see :func:`dashboard_results`).

    A view marked ``dashboard: latest week`` keeps only the rows of each playlist's latest
    snapshot (none when nothing moved that week, say); the others keep their whole history. A
    playlist gets a file for every view, empty when it has no rows, and one more for every
    :data:`VIEW_PAGE_ROWS` rows past the first ones. A view that failed for a playlist gets
    that playlist one file with no rows and the ``error``.
    """
    grouped = {name: rows_by_playlist(result) for name, result in results.items()}
    failures = failures or {}
    playlists = dashboard_playlists(
        [
            playlist
            for by_playlist in [*grouped.values(), *failures.values()]
            for playlist in by_playlist
        ]
    )
    latest = latest_weeks(results)
    files: dict[str, bytes] = {}
    for name, result in results.items():
        view = catalog.view(name)
        for playlist in playlists:
            rows = grouped[name].get(playlist, [])
            if view.dashboard == catalog.DASHBOARD_LATEST_WEEK and "week" in result.columns:
                rows = [row for row in rows if row["week"] == latest.get(playlist)]
            error = failures.get(name, {}).get(playlist)
            for offset in range(0, max(len(rows), 1), VIEW_PAGE_ROWS):
                document = {
                    "view": name,
                    "playlist": playlist,
                    "description": view.description,
                    "columns": result.columns,
                    "offset": offset,
                    "total_rows": len(rows),
                    "rows": rows[offset : offset + VIEW_PAGE_ROWS],
                    **({"error": error} if error else {}),
                }
                files[view_file(playlist, name, offset)] = encode_json(document)
    summaries = grouped.get(SUMMARY_VIEW, {})
    files[INDEX_FILE] = encode_json(
        {
            "playlists": [
                {
                    "playlist": playlist,
                    "name": names.get(playlist),
                    "week": latest.get(playlist),
                    "latest": _latest_row(summaries, playlist, latest),
                }
                for playlist in playlists
            ],
            "views": {name: catalog.view(name).description for name in results},
            "files": f"{DASHBOARD_FOLDER}/<playlist>/<view>.json, then <view>.<first row>.json "
            f"every {VIEW_PAGE_ROWS} rows",
        }
    )
    return files


def _latest_row(summaries: dict[str, list[dict]], playlist: str, latest: dict) -> dict | None:
    rows = [row for row in summaries.get(playlist, []) if row["week"] == latest.get(playlist)]
    return rows[0] if rows else None


def summary_metadata(result: QueryResult) -> dict[str, int | float]:
    """The numbers of one playlist-week's ``weekly_summary`` row, for its metadata. The view
    has no row for an empty snapshot: that week counts 0 entries and 0 hours."""
    [record] = result.records() or [{"entries": 0, "hours": 0.0}]
    return {metric: record[metric] for metric in SUMMARY_METRICS if record.get(metric) is not None}
