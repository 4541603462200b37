"""The SQL views over the lake: one ``.sql`` file each in ``views/``, and the queries built on them.

A view file is a plain ``SELECT`` (Trino and DuckDB alike) over the lake's tables (``artists``,
``albums``, ``songs``, ``song_artists``, ``playlist_entries``, each with the partition columns
``week`` and ``playlist``) or over other views. It opens with a comment: what the view holds,
then ``-- order by: ...`` (the order its rows are shown in), ``-- dashboard: history`` or
``-- dashboard: latest week`` (what the dashboard keeps of it), and ``-- reads: every playlist``
for a view whose rows of one playlist depend on the other playlists' (the default: ``its
playlist``, each playlist's rows come from its own partitions). A row of such a view depends on
its playlist's partitions and on those of the playlist in its ``other_playlist`` column, the
same week, and the view is ordered by plain columns, so that the dashboard can replace the rows
of one other playlist. Pure Python, no engine here.
"""

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from spotify_assets import constants

VIEWS_DIR = Path(__file__).resolve().parent / "views"
LAKE_TABLES = constants.NORMALIZED_TABLES  # the Glue tables have the same names
DASHBOARD_HISTORY = "history"
DASHBOARD_LATEST_WEEK = "latest week"
READS_ITS_PLAYLIST = "its playlist"
READS_EVERY_PLAYLIST = "every playlist"
OTHER_PLAYLIST = "other_playlist"  # the other playlist a row of such a view depends on
LATEST = "latest"

_DIRECTIVE = re.compile(r"^--\s*(order by|dashboard|reads):\s*(.+?)\s*$")
_LINE_COMMENT = re.compile(r"--[^\n]*")
_LEADING_WITH = re.compile(r"^\s*WITH\s+", re.IGNORECASE)
_PLAIN_COLUMNS = re.compile(r"\w+(\s*,\s*\w+)*")


@dataclasses.dataclass(frozen=True)
class View:
    name: str
    description: str
    order_by: str
    dashboard: str
    body: str  # the SELECT, without the opening comment
    text: str  # the whole file
    dependencies: tuple[str, ...]  # the other views it reads
    reads_every_playlist: bool = False  # its rows of a playlist depend on other playlists'

    @property
    def order_columns(self) -> list[str]:
        """The columns of ``order_by``, for a view ordered by plain columns."""
        return [column.strip() for column in self.order_by.split(",")]


class UnknownViewError(KeyError):
    def __str__(self) -> str:
        name, known = self.args[0], sorted(views())
        close = difflib.get_close_matches(name, known, n=1)
        guess = f"; did you mean {close[0]!r}?" if close else "."
        return f"no view named {name!r}{guess} The views are: {', '.join(known)}"


def _parse(path: Path, names: set[str]) -> View:
    text = path.read_text(encoding="utf-8")
    description, directives, body_lines = [], {}, []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.startswith("--"):
            body_lines = lines[index:]
            break
        match = _DIRECTIVE.match(line)
        if match:
            directives[match.group(1)] = match.group(2)
        elif line.strip("- "):
            description.append(line.removeprefix("--").strip())
    body = "\n".join(body_lines).strip().removesuffix(";").strip()
    code = _LINE_COMMENT.sub("", body)
    dependencies = tuple(sorted(n for n in names - {path.stem} if _reads(code, n)))
    dashboard = directives.get("dashboard", DASHBOARD_HISTORY)
    if dashboard not in (DASHBOARD_HISTORY, DASHBOARD_LATEST_WEEK):
        raise ValueError(f"{path.name}: 'dashboard:' must be history or latest week")
    reads = directives.get("reads", READS_ITS_PLAYLIST)
    if reads not in (READS_ITS_PLAYLIST, READS_EVERY_PLAYLIST):
        raise ValueError(f"{path.name}: 'reads:' must be its playlist or every playlist")
    order_by = directives.get("order by", "playlist")
    if reads == READS_EVERY_PLAYLIST and not _PLAIN_COLUMNS.fullmatch(order_by):
        raise ValueError(f"{path.name}: a view that reads every playlist is ordered by columns")
    return View(
        name=path.stem,
        description=" ".join(description),
        order_by=order_by,
        dashboard=dashboard,
        body=body,
        text=text,
        dependencies=dependencies,
        reads_every_playlist=reads == READS_EVERY_PLAYLIST,
    )


@cache
def views() -> dict[str, View]:
    """Every view by name, each after the views it reads (the order to create them in)."""
    paths = sorted(VIEWS_DIR.glob("*.sql"))
    names = {path.stem for path in paths}
    parsed = {path.stem: _parse(path, names) for path in paths}
    ordered: dict[str, View] = {}

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise ValueError(f"views read each other in a cycle: {' -> '.join(chain + (name,))}")
        if name not in ordered:
            for dependency in parsed[name].dependencies:
                visit(dependency, chain + (name,))
            current = parsed[name]
            # A view built on one that reads every playlist does too.
            if any(ordered[d].reads_every_playlist for d in current.dependencies):
                current = dataclasses.replace(current, reads_every_playlist=True)
            ordered[name] = current

    for name in parsed:
        visit(name, ())
    return ordered


def view(name: str) -> View:
    try:
        return views()[name]
    except KeyError:
        raise UnknownViewError(name) from None


def with_dependencies(name: str) -> list[View]:
    """The view and every view it reads, each after the ones it reads."""
    needed: set[str] = set()

    def collect(current: str) -> None:
        if current not in needed:
            needed.add(current)
            for dependency in view(current).dependencies:
                collect(dependency)

    collect(name)
    return [v for v in views().values() if v.name in needed]


def sql_string(value: str) -> str:
    """A SQL string literal, quotes doubled: the same in Trino and DuckDB."""
    return "'" + value.replace("'", "''") + "'"


def one_of(column: str, values: Iterable[str]) -> str:
    """``column IN ('a', 'b')``; ``FALSE`` for no values."""
    literals = ", ".join(sql_string(value) for value in values)
    return f"{column} IN ({literals})" if literals else "FALSE"


def view_query(
    name: str,
    *,
    playlist: str | None = None,
    week: str | None = None,
    limit: int | None = None,
    where: str | None = None,
) -> str:
    """``SELECT * FROM <view>`` filtered to a playlist and a week (an ISO date or ``latest``,
    each playlist's newest week in the view), and by ``where`` if given, in the view's order.
    Needs the views to exist: see :func:`inline_views` for an engine that has only the lake's
    tables."""
    current = view(name)
    conditions = []
    if playlist is not None:
        conditions.append(f"playlist = {sql_string(playlist)}")
    if week == LATEST:
        # With a playlist, the literal again (not a correlation) lets the engine read only
        # that playlist's partitions for the newest week too.
        same_playlist = sql_string(playlist) if playlist is not None else f"{name}.playlist"
        conditions.append(
            f"week = (SELECT MAX(newest.week) FROM {name} AS newest "
            f"WHERE newest.playlist = {same_playlist})"
        )
    elif week is not None:
        conditions.append(f"week = DATE {sql_string(_iso_date(week))}")
    if where is not None:
        conditions.append(f"({where})")
    query = f"SELECT *\nFROM {name}"
    if conditions:
        query += "\nWHERE " + "\n    AND ".join(conditions)
    query += f"\nORDER BY {current.order_by}"
    if limit is not None:
        query += f"\nLIMIT {int(limit)}"
    return query


@dataclasses.dataclass(frozen=True)
class Partitions:
    """Some partitions of a lake table: those of one ``playlist`` (None: of every playlist) in
    the ``weeks`` named (ISO dates; None: in every week)."""

    playlist: str | None = None
    weeks: tuple[str, ...] | None = None

    def predicate(self) -> str:
        """A filter that keeps these partitions, with literals on both partition columns: what
        Athena's partition projection needs to read only their folders."""
        conditions = []
        if self.playlist is not None:
            conditions.append(f"playlist = {sql_string(self.playlist)}")
        if self.weeks is not None:
            if not self.weeks:
                return "FALSE"
            dates = ", ".join(f"DATE {sql_string(_iso_date(week))}" for week in self.weeks)
            conditions.append(f"week IN ({dates})")
        return " AND ".join(conditions) or "TRUE"


# The partitions a query reads, by lake table; a table left out reads none.
PartitionsByTable = Mapping[str, Partitions]


def _iso_date(week: str) -> str:
    return dt.date.fromisoformat(week).isoformat()


def tables_in(query: str) -> list[str]:
    """The lake tables a query reads, itself or through the views it reads."""
    code = [_LINE_COMMENT.sub("", query)]
    code += [v.body for name in views_in(query) for v in with_dependencies(name)]
    return [table for table in LAKE_TABLES if any(_reads(text, table) for text in code)]


def inline_views(
    query: str,
    names: Iterable[str],
    tables: Mapping[str, str] | None = None,
) -> str:
    """``query`` made self-contained: the named views (and the views they read) become
    ``WITH`` clauses, so it runs on an engine that has only the lake's tables (Athena).
    ``tables`` go first: a ``SELECT`` by table name, which the views then read in its place."""
    needed: dict[str, View] = {}
    for name in names:
        for current in with_dependencies(name):
            needed[current.name] = current
    ordered = [v for v in views().values() if v.name in needed]
    clauses = ",\n".join(
        [f"{name} AS (\n{_indent(select)}\n)" for name, select in (tables or {}).items()]
        + [f"{v.name} AS (\n{_indent(v.body)}\n)" for v in ordered]
    )
    if not clauses:
        return query
    own_with = _LEADING_WITH.match(query)
    if own_with:  # one WITH list: the views first, then the query's own clauses
        return f"WITH\n{clauses},\n{query[own_with.end() :]}"
    return f"WITH\n{clauses}\n{query}"


def views_in(query: str) -> list[str]:
    """The names of the views a query reads."""
    code = _LINE_COMMENT.sub("", query)
    return [name for name in views() if _reads(code, name)]


def _reads(code: str, name: str) -> bool:
    # A view is read after FROM or JOIN; elsewhere the same word may be a column's name.
    return re.search(rf"\b(?:FROM|JOIN)\s+{re.escape(name)}\b", code, re.IGNORECASE) is not None


def create_view_statements() -> list[str]:
    """``CREATE OR REPLACE VIEW`` for every view, in an order that works (Athena and DuckDB)."""
    return [f"CREATE OR REPLACE VIEW {v.name} AS\n{v.body}" for v in views().values()]


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line else line for line in text.splitlines())
