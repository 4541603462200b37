"""What the dashboard reads, built from view results: one small JSON per view and playlist.

Pure functions: rows in, file names and bytes out. The dashboard asset writes them to the object
store under ``dashboard/``, so a page view reads a few small files and never scans the lake::

    dashboard/index.json                  the playlists, their latest summary, the views
    dashboard/<playlist>/<view>.json      one view's rows for one playlist
"""

import json
import re
from typing import Any

from spotify_assets.sql import catalog
from spotify_assets.sql.result import QueryResult

DASHBOARD_FOLDER = "dashboard"
INDEX_FILE = "index.json"
SUMMARY_VIEW = "weekly_summary"
# Metrics of the weekly summary, shown as each partition's metadata.
SUMMARY_METRICS = ("entries", "hours", "added", "removed", "turnover", "distinct_artists")
_PLAYLIST_ID = re.compile(r"^[A-Za-z0-9]+$")


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


def latest_weeks(grouped: dict[str, dict[str, list[dict]]]) -> dict[str, str]:
    """Each playlist's newest week in any view: its latest snapshot (ISO dates sort as text)."""
    latest: dict[str, str] = {}
    for rows_of_playlist in grouped.values():
        for playlist, rows in rows_of_playlist.items():
            weeks = [row["week"] for row in rows if row.get("week")]
            if weeks:
                latest[playlist] = max(latest.get(playlist, ""), *weeks)
    return latest


def dashboard_files(results: dict[str, QueryResult]) -> dict[str, bytes]:
    """File paths under ``dashboard/`` and their bytes, from each view's rows (every playlist).

    A view marked ``dashboard: latest week`` keeps only the rows of each playlist's latest
    snapshot (none when nothing moved that week, say); the others keep their whole history. A
    playlist gets a file for every view, empty when it has no rows.
    """
    grouped = {name: rows_by_playlist(result) for name, result in results.items()}
    playlists = sorted({playlist for rows in grouped.values() for playlist in rows})
    latest = latest_weeks(grouped)
    for playlist in playlists:
        if not _PLAYLIST_ID.fullmatch(playlist):
            raise ValueError(f"playlist id {playlist!r} is not a Spotify id; refusing the path")
    files: dict[str, bytes] = {}
    for name, result in results.items():
        view = catalog.view(name)
        for playlist in playlists:
            rows = grouped[name].get(playlist, [])
            if view.dashboard == catalog.DASHBOARD_LATEST_WEEK and "week" in result.columns:
                rows = [row for row in rows if row["week"] == latest.get(playlist)]
            document = {
                "view": name,
                "playlist": playlist,
                "description": view.description,
                "columns": result.columns,
                "rows": rows,
            }
            files[f"{playlist}/{name}.json"] = encode_json(document)
    summaries = grouped.get(SUMMARY_VIEW, {})
    files[INDEX_FILE] = encode_json(
        {
            "playlists": [
                {"playlist": playlist, "latest": _latest_row(summaries, playlist, latest)}
                for playlist in playlists
            ],
            "views": {name: catalog.view(name).description for name in results},
            "files": f"{DASHBOARD_FOLDER}/<playlist>/<view>.json",
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
