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

Two ways to write them: :func:`rebuild_dashboard` computes every playlist's files, and
:func:`refresh_dashboard` only those of the playlists whose lake changed, over their own
partitions, merging them into the index. A view that reads every playlist (``-- reads: every
playlist``: what playlists share) keeps only each playlist's latest week, so a change recomputes
that one week of it, for the playlists whose latest week it is.
"""

import bisect
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
INDEX_PATH = f"{DASHBOARD_FOLDER}/{INDEX_FILE}"

# A file's bytes by its path under the object store's root (``dashboard/index.json``), or None
# when there is no such file.
ReadFile = Callable[[str], bytes | None]

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


@dataclass(frozen=True)
class ViewRows:
    """One view's rows as the dashboard files hold them (JSON-ready), by playlist."""

    columns: list[str]
    by_playlist: dict[str, list[dict]]

    @classmethod
    def of(cls, result: QueryResult) -> "ViewRows":
        return cls(result.columns, rows_by_playlist(result))

    def only(self, playlists: Iterable[str]) -> "ViewRows":
        kept = {p: self.by_playlist[p] for p in playlists if p in self.by_playlist}
        return ViewRows(self.columns, kept)


def _grouped(results: Mapping[str, QueryResult]) -> dict[str, ViewRows]:
    return {name: ViewRows.of(result) for name, result in results.items()}


def latest_weeks(results: dict[str, QueryResult]) -> dict[str, str]:
    """Each playlist's newest week in any view: its latest snapshot (ISO dates sort as text)."""
    return _latest(_grouped(results))


def _latest(grouped: Mapping[str, ViewRows]) -> dict[str, str]:
    latest: dict[str, str] = {}
    for rows in grouped.values():
        if "week" not in rows.columns:
            continue
        for playlist, records in rows.by_playlist.items():
            weeks = [record["week"] for record in records if record["week"]]
            if weeks:
                latest[playlist] = max(latest.get(playlist, ""), *weeks)
    return latest


def raw_snapshot_path(playlist: str, week: str) -> str:
    """Where the object store keeps the playlist's raw snapshot of ``week``, under its root."""
    partition = f"{constants.WEEK}={week}/{constants.PLAYLIST}={playlist}"
    return f"{constants.RAW}/playlist_json/{partition}/playlist.json"


def playlist_names(
    read: ReadFile, weeks: Mapping[str, str], index: bytes | None
) -> dict[str, str | None]:
    """Each playlist's name in its snapshot of ``weeks[playlist]``: as the ``index`` already
    has it for that week, else from the raw snapshot (read once per week: it can be hundreds
    of megabytes, which the read API never opens)."""
    indexed = indexed_names(index)
    return {
        playlist: indexed[playlist][1]
        if playlist in indexed and indexed[playlist][0] == week
        else playlist_name(read(raw_snapshot_path(playlist, week)))
        for playlist, week in weeks.items()
    }


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
    lake: Lake,
    views: Iterable[str],
    *,
    playlist: str | None = None,
    week: str | None = None,
    partitions: catalog.PartitionsByTable | None = None,
) -> tuple[dict[str, QueryResult], dict[str, dict[str, str]]]:
    """Each view's rows (every playlist, or the one ``playlist``; every week, or the one
    ``week``), over the whole lake or the ``partitions`` named, and each view's failures: the
    error, by playlist.

    One query per view. A view whose query fails runs again playlist by playlist, so a broken
    partition costs only its own playlist that view (or every playlist, for a view that reads
    them all). Nothing answering at all (the engine down) fails it."""
    queries = {name: catalog.view_query(name, playlist=playlist, week=week) for name in views}
    try:
        return lake.query_many(queries, partitions), {}
    except QUERY_ERRORS:
        pass  # found again below, view by view and playlist by playlist
    if playlist is not None:
        playlists = [playlist]
    else:
        found = lake.query(LAKE_PLAYLISTS_QUERY, partitions).records()
        playlists = [record["playlist"] for record in found]
    results: dict[str, QueryResult] = {}
    failures: dict[str, dict[str, str]] = {}
    for name, query in queries.items():
        try:
            results[name] = lake.query(query, partitions)
        except QUERY_ERRORS:
            results[name], failures[name] = _view_by_playlist(
                lake, name, playlists, week, partitions
            )
    return results, {name: errors for name, errors in failures.items() if errors}


def _view_by_playlist(
    lake: Lake,
    view: str,
    playlists: list[str],
    week: str | None = None,
    partitions: catalog.PartitionsByTable | None = None,
) -> tuple[QueryResult, dict[str, str]]:
    """The view's rows for each playlist it answers for, and the error for each other one."""
    answers, errors = [], {}
    for playlist in playlists:
        try:
            query = catalog.view_query(view, playlist=playlist, week=week)
            answers.append(lake.query(query, partitions))
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
    grouped = _grouped(results)
    files = view_files(grouped, failures)
    files[INDEX_FILE] = index_file(index_entries(grouped, names, failures), results)
    return files


def _found_playlists(
    grouped: Mapping[str, ViewRows], failures: Mapping[str, Mapping[str, str]]
) -> list[str]:
    found = [playlist for rows in grouped.values() for playlist in rows.by_playlist]
    return dashboard_playlists(found + [p for errors in failures.values() for p in errors])


def view_files(
    grouped: Mapping[str, ViewRows],
    failures: Mapping[str, Mapping[str, str]] | None = None,
    playlists: Iterable[str] | None = None,
) -> dict[str, bytes]:
    """The files of every view in ``grouped`` for the ``playlists`` named (default: every one
    with rows or ``failures``), as :func:`dashboard_files` describes them."""
    failures = failures or {}
    if playlists is None:
        playlists = _found_playlists(grouped, failures)
    else:
        playlists = dashboard_playlists(playlists)
    latest = _latest(grouped)
    files: dict[str, bytes] = {}
    for name, view_rows in grouped.items():
        view = catalog.view(name)
        for playlist in playlists:
            rows = view_rows.by_playlist.get(playlist, [])
            if view.dashboard == catalog.DASHBOARD_LATEST_WEEK and "week" in view_rows.columns:
                rows = [row for row in rows if row["week"] == latest.get(playlist)]
            error = failures.get(name, {}).get(playlist)
            files.update(_view_documents(name, playlist, view_rows.columns, rows, error))
    return files


def _view_documents(
    name: str, playlist: str, columns: list[str], rows: list[dict], error: str | None = None
) -> dict[str, bytes]:
    """A view's files for one playlist: a page of :data:`VIEW_PAGE_ROWS` rows each."""
    files = {}
    for offset in range(0, max(len(rows), 1), VIEW_PAGE_ROWS):
        document = {
            "view": name,
            "playlist": playlist,
            "description": catalog.view(name).description,
            "columns": columns,
            "offset": offset,
            "total_rows": len(rows),
            "rows": rows[offset : offset + VIEW_PAGE_ROWS],
            **({"error": error} if error else {}),
        }
        files[view_file(playlist, name, offset)] = encode_json(document)
    return files


def index_entries(
    grouped: Mapping[str, ViewRows],
    names: Mapping[str, str | None],
    failures: Mapping[str, Mapping[str, str]] | None = None,
) -> list[dict]:
    """The index's entry of every playlist with rows or ``failures``: its name, latest week
    and the summary of that week."""
    latest = _latest(grouped)
    summaries = grouped[SUMMARY_VIEW].by_playlist if SUMMARY_VIEW in grouped else {}
    return [
        {
            "playlist": playlist,
            "name": names.get(playlist),
            "week": latest.get(playlist),
            "latest": _latest_row(summaries, playlist, latest),
        }
        for playlist in _found_playlists(grouped, failures or {})
    ]


def index_file(entries: Iterable[dict], views: Iterable[str]) -> bytes:
    """``index.json``: the playlists' ``entries``, sorted, and the ``views`` with their
    descriptions."""
    return encode_json(
        {
            "playlists": sorted(entries, key=lambda entry: entry["playlist"]),
            "views": {name: catalog.view(name).description for name in views},
            "files": f"{DASHBOARD_FOLDER}/<playlist>/<view>.json, then <view>.<first row>.json "
            f"every {VIEW_PAGE_ROWS} rows",
        }
    )


def _latest_row(summaries: dict[str, list[dict]], playlist: str, latest: dict) -> dict | None:
    rows = [row for row in summaries.get(playlist, []) if row["week"] == latest.get(playlist)]
    return rows[0] if rows else None


@dataclass(frozen=True)
class DashboardUpdate:
    """What a rebuild or a refresh of the dashboard computed: the files to write, by path under
    the object store's root, the playlists recomputed, and each view's rows and failures."""

    files: dict[str, bytes]
    playlists: list[str]
    rows_per_view: dict[str, int]
    failures: dict[str, dict[str, str]]
    rebuilt: bool  # every playlist's files, not only those of the playlists that changed
    engine: str


def own_playlist_views() -> list[str]:
    """The views whose rows of a playlist come from its own partitions alone."""
    return [name for name, view in catalog.views().items() if not view.reads_every_playlist]


def every_playlist_views() -> list[str]:
    """The views whose rows of a playlist depend on the other playlists' (what they share)."""
    return [name for name, view in catalog.views().items() if view.reads_every_playlist]


def _playlist_partitions(playlist: str) -> dict[str, catalog.Partitions]:
    return {table: catalog.Partitions(playlist=playlist) for table in catalog.LAKE_TABLES}


def _week_partitions(week: str) -> dict[str, catalog.Partitions]:
    return {table: catalog.Partitions(weeks=(week,)) for table in catalog.LAKE_TABLES}


def _merged(parts: Iterable[Mapping[str, ViewRows]], views: Iterable[str]) -> dict[str, ViewRows]:
    """Each view's rows of every part (each part holds other playlists); the columns of a part
    that has them (a view that failed has none)."""
    parts = list(parts)
    merged = {}
    for name in views:
        found = [part[name] for part in parts if name in part]
        columns = next((rows.columns for rows in found if rows.columns), [])
        merged[name] = ViewRows(
            columns, {p: r for rows in found for p, r in rows.by_playlist.items()}
        )
    return merged


def _merged_failures(parts: Iterable[dict[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for part in parts:
        for name, errors in part.items():
            merged.setdefault(name, {}).update(errors)
    return {name: errors for name, errors in merged.items() if errors}


def _only(
    failures: Mapping[str, Mapping[str, str]], playlists: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The ``failures`` of these ``playlists`` only."""
    playlists = set(playlists)
    return {
        name: {playlist: error for playlist, error in errors.items() if playlist in playlists}
        for name, errors in failures.items()
    }


def _every_playlist_rows(
    lake: Lake, latest: Mapping[str, str]
) -> tuple[dict[str, ViewRows], dict[str, dict[str, str]]]:
    """The views that read every playlist, for each playlist in ``latest`` its rows of its
    latest week (all the dashboard keeps of them): one query per view and week, over that
    week's partitions of every playlist."""
    views = every_playlist_views()
    parts, failures = [], []
    for week in sorted(set(latest.values())):
        keep = [playlist for playlist, latest_week in latest.items() if latest_week == week]
        results, errors = dashboard_results(
            lake, views, week=week, partitions=_week_partitions(week)
        )
        parts.append({name: ViewRows.of(result).only(keep) for name, result in results.items()})
        failures.append(_only(errors, keep))
    return _merged(parts, views), _merged_failures(failures)


def _update(
    files: dict[str, bytes],
    grouped: Mapping[str, ViewRows],
    failures: dict[str, dict[str, str]],
    playlists: list[str],
    rebuilt: bool,
    lake: Lake,
) -> DashboardUpdate:
    return DashboardUpdate(
        files={f"{DASHBOARD_FOLDER}/{path}": data for path, data in files.items()},
        playlists=playlists,
        rows_per_view={
            name: sum(len(rows) for rows in view_rows.by_playlist.values())
            for name, view_rows in grouped.items()
        },
        failures=failures,
        rebuilt=rebuilt,
        engine=lake.engine,
    )


def _shared_in_week(
    lake: Lake,
    read: ReadFile,
    week: str,
    mine: list[str],
    changed: list[str],
    others: list[str],
) -> tuple[dict[str, ViewRows], dict[str, dict[str, str]], dict[str, bytes]]:
    """The views that read every playlist, in one ``week``: the rows of the playlists ``mine``
    (whose latest week it is), and the files of the ``others`` whose latest week it is too,
    where they change: their rows that depend on a ``changed`` playlist (the one in their
    ``other_playlist`` column) replaced, the rest kept as their files hold them. An other
    playlist whose files cannot be merged into gets all its rows again."""
    views = every_playlist_views()
    stored = _stored_views(read, views, others if changed else [])
    whole = {playlist for (playlist, _), view in stored.items() if not view.readable}
    again = sorted(set(mine) | whole)
    spliced = sorted({playlist for playlist, _ in stored} - whole)
    conditions = [catalog.one_of(constants.PLAYLIST, again)] if again else []
    if spliced:
        conditions.append(catalog.one_of(catalog.OTHER_PLAYLIST, changed))
    if not conditions:
        return {}, {}, {}
    queries = {
        name: catalog.view_query(name, week=week, where=" OR ".join(conditions)) for name in views
    }
    try:
        results = lake.query_many(queries, _week_partitions(week))
    except QUERY_ERRORS as error:
        # Theirs stay as they are; ours say why they are empty.
        logger.warning(f"dashboard: what playlists share in week {week} failed: {error}")
        return {}, {name: {p: str(error) for p in mine} for name in views}, {}
    grouped = {name: ViewRows.of(result) for name, result in results.items()}
    files: dict[str, bytes] = {}
    for name, rows in grouped.items():
        for playlist in sorted(whole - set(mine)):
            found = rows.by_playlist.get(playlist, [])
            files.update(_view_documents(name, playlist, rows.columns, found))
        for playlist in spliced:
            found = rows.by_playlist.get(playlist, [])
            new = [row for row in found if row[catalog.OTHER_PLAYLIST] in changed]
            files.update(stored[playlist, name].spliced(rows.columns, changed, new))
    return {name: rows.only(mine) for name, rows in grouped.items()}, {}, files


_TOTAL_ROWS = re.compile(rb'"total_rows":(\d+)')


def _total_rows(page: bytes | None) -> int | None:
    """A view file's ``total_rows``, found from the end: the keys are sorted, the rows before."""
    start = page.rfind(b'"total_rows":') if page else -1
    found = _TOTAL_ROWS.match(page, start) if start >= 0 else None
    return int(found.group(1)) if found else None


def _stored_views(
    read: ReadFile, views: list[str], playlists: list[str]
) -> dict[tuple[str, str], "_StoredView"]:
    """The stored files of these views of these playlists, by (playlist, view), every page of
    each read side by side: on S3 each is a request."""

    def read_all(paths: list[str]) -> dict[str, bytes | None]:
        with ThreadPoolExecutor(max_workers=16) as pool:
            found = pool.map(lambda path: read(f"{DASHBOARD_FOLDER}/{path}"), paths)
            return dict(zip(paths, found, strict=True))

    keys = [(playlist, name) for playlist in playlists for name in views]
    pages = read_all([view_file(*key) for key in keys])
    more = []
    for playlist, name in keys:
        total = _total_rows(pages[view_file(playlist, name)]) or 0
        offsets = range(VIEW_PAGE_ROWS, total, VIEW_PAGE_ROWS)
        more += [view_file(playlist, name, offset) for offset in offsets]
    pages.update(read_all(more))
    return {(playlist, name): _StoredView(playlist, name, pages) for playlist, name in keys}


class _StoredView:
    """One view's files of one playlist as stored: their bytes, decoded only to be merged into."""

    def __init__(self, playlist: str, name: str, pages: Mapping[str, bytes | None]):
        self.playlist, self.name = playlist, name
        first = pages[view_file(playlist, name)] or b""
        total = _total_rows(first)
        offsets = range(0, total or 0, VIEW_PAGE_ROWS)
        self.pages = {
            view_file(playlist, name, offset): pages.get(view_file(playlist, name, offset))
            for offset in offsets or [0]
        }
        # A file written before pages came, or holding an error, or a page gone: all again.
        self.readable = total is not None and b'"error":' not in first
        self.readable = self.readable and all(page is not None for page in self.pages.values())

    def holds(self, changed: list[str], rows: list[dict]) -> bool:
        """Whether the rows that depend on the ``changed`` playlists are these ``rows``, told
        from the bytes: :func:`encode_json` writes a row as its page holds it, each with
        ``"other_playlist":"<id>"`` (ids need no escaping), and a row found inside a string
        would have its quotes escaped."""
        markers = [f'"{catalog.OTHER_PLAYLIST}":"{playlist}"'.encode() for playlist in changed]
        pages = list(self.pages.values())
        depending = sum(page.count(marker) for page in pages for marker in markers)
        encoded = [encode_json(row) for row in rows]
        return depending == len(rows) and all(any(e in page for page in pages) for e in encoded)

    def spliced(self, columns: list[str], changed: list[str], new: list[dict]) -> dict[str, bytes]:
        """Its files with the rows whose other playlist is one of ``changed`` replaced by the
        ``new`` ones: those that differ."""
        if self.holds(changed, new):
            return {}  # what of it depends on the playlists that changed did not change
        rows = [row for page in self.pages.values() for row in json.loads(page)["rows"]]
        kept = [row for row in rows if row[catalog.OTHER_PLAYLIST] not in changed]
        order = catalog.view(self.name).order_columns

        def key(row: dict) -> list:
            return [(row[column] is None, row[column]) for column in order]

        for row in new:  # the kept rows are in order already
            bisect.insort(kept, row, key=key)
        documents = _view_documents(self.name, self.playlist, columns, kept)
        return {path: data for path, data in documents.items() if self.pages.get(path) != data}


def rebuild_dashboard(lake: Lake, read: ReadFile) -> DashboardUpdate:
    """Every playlist's dashboard files and the index, from the whole lake: one query per view
    (one per view and latest week for the views that read every playlist)."""
    index = read(INDEX_PATH)
    results, failures = dashboard_results(lake, own_playlist_views())
    grouped = _grouped(results)
    latest = _latest(grouped)
    shared, shared_failures = _every_playlist_rows(lake, latest)
    grouped.update(shared)
    failures = _merged_failures([failures, shared_failures])
    files = view_files(grouped, failures)
    names = playlist_names(read, latest, index)
    files[INDEX_FILE] = index_file(index_entries(grouped, names, failures), grouped)
    playlists = sorted({path.split("/")[0] for path in files if "/" in path})
    return _update(files, grouped, failures, playlists, True, lake)


def _own_rows(
    lake: Lake, playlists: list[str]
) -> tuple[dict[str, ViewRows], dict[str, dict[str, str]]]:
    """The views of each playlist's own, over its own partitions (every week of it)."""
    views = own_playlist_views()
    parts, failure_parts = [], []
    for playlist in playlists:
        results, failures = dashboard_results(
            lake, views, playlist=playlist, partitions=_playlist_partitions(playlist)
        )
        parts.append(_grouped(results))
        failure_parts.append(failures)
    return _merged(parts, views), _merged_failures(failure_parts)


def refresh_dashboard(
    lake: Lake, read: ReadFile, changed: Collection[tuple[str, str]]
) -> DashboardUpdate:
    """The dashboard files of the playlists whose lake ``changed`` (``(playlist, week)``
    partitions), each from its own partitions, and the index with their entries replaced:
    what :func:`rebuild_dashboard` would write for them.

    The views that read every playlist are recomputed for the weeks that changed and the
    changed playlists' latest weeks, over those weeks' partitions; another playlist whose
    latest week that is gets those files rewritten where they differ. Without an index, or
    with one listing other views (an upgrade), it rebuilds everything."""
    index = read(INDEX_PATH)
    indexed_document = json.loads(index) if index is not None else None
    if indexed_document is None or set(indexed_document["views"]) != set(catalog.views()):
        return rebuild_dashboard(lake, read)
    indexed = {entry["playlist"]: entry for entry in indexed_document["playlists"]}
    changed = set(changed)
    playlists = dashboard_playlists({playlist for playlist, _ in changed})
    weeks = sorted({week for _, week in changed})
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Their own views meanwhile: DuckDB lets other threads run while it reads and queries.
        own = pool.submit(_own_rows, lake, playlists)
        # Each changed week: what the changed playlists share in it (their latest, mostly),
        # merged into the files of the others whose latest week it is.
        shared = {}
        for week in weeks:
            changed_here = sorted({playlist for playlist, w in changed if w == week})
            others = sorted(
                playlist
                for playlist, entry in indexed.items()
                if playlist not in playlists and entry.get("week") == week
            )
            shared[week] = _shared_in_week(lake, read, week, changed_here, changed_here, others)
        grouped, failures = own.result()
    latest = _latest(grouped)
    files: dict[str, bytes] = {}
    parts, failure_parts = [], [failures]
    for week, (rows, errors, their_files) in shared.items():
        mine = [p for p in playlists if latest.get(p) == week and (p, week) in changed]
        parts.append({name: view_rows.only(mine) for name, view_rows in rows.items()})
        failure_parts.append(_only(errors, mine))
        files.update(their_files)
    # A playlist whose latest week is not one it changed in: what it shares that week, now.
    missing: dict[str, list[str]] = {}
    for playlist in playlists:
        week = latest.get(playlist)
        if week is not None and (playlist, week) not in changed:
            missing.setdefault(week, []).append(playlist)
    for week, mine in sorted(missing.items()):
        rows, errors, _ = _shared_in_week(lake, read, week, mine, [], [])
        parts.append(rows)
        failure_parts.append(errors)
    grouped.update(_merged(parts, every_playlist_views()))
    failures = _merged_failures(failure_parts)
    files.update(view_files(grouped, failures))
    names = playlist_names(read, latest, index)
    entries = [entry for playlist, entry in indexed.items() if playlist not in playlists]
    entries += index_entries(grouped, names, failures)
    files[INDEX_FILE] = index_file(entries, catalog.views())
    return _update(files, grouped, failures, playlists, False, lake)


def summary_metadata(result: QueryResult) -> dict[str, int | float]:
    """The numbers of one playlist-week's ``weekly_summary`` row, for its metadata. The view
    has no row for an empty snapshot: that week counts 0 entries and 0 hours."""
    [record] = result.records() or [{"entries": 0, "hours": 0.0}]
    return {metric: record[metric] for metric in SUMMARY_METRICS if record.get(metric) is not None}
