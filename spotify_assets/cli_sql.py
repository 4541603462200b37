"""``spotify-assets sql``: a view or a query over the lake, printed as a table, CSV or JSON.

Locally DuckDB reads the Parquet files under the data dir, with the lake's tables registered
under the Glue tables' names; a playlist with no week in the lake is an error that lists the
playlists it holds. With ``SPOTIFY_ASSETS_ENV=aws`` it prints the query for Athena (the views it
reads inlined), or runs it there with ``--run``.
"""

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import duckdb
from botocore.exceptions import BotoCoreError, ClientError

from spotify_assets import deployment
from spotify_assets.cli_playlists import playlist_lines, playlist_names, printable
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import AthenaLake, AthenaQueryError, athena_query_text
from spotify_assets.sql.duckdb_lake import DuckDBLake, lake_is_empty, lake_playlists
from spotify_assets.sql.result import FORMATS, QueryResult

_PLAYLIST_IN_LINK = re.compile(r"playlist[:/]([A-Za-z0-9]+)")


def playlist_id(value: str) -> str:
    """A playlist id from an id, a ``spotify:playlist:`` URI or an open.spotify.com URL."""
    match = _PLAYLIST_IN_LINK.search(value)
    return match.group(1) if match else value.strip()


def week(value: str) -> str:
    if value == catalog.LATEST:
        return value
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD) or 'latest'"
        ) from None


def _list_views(output_format: str) -> str:
    listed = [
        {"view": v.name, "description": v.description, "dashboard": v.dashboard}
        for v in sorted(catalog.views().values(), key=lambda v: v.name)
    ]
    if output_format == "table":
        width = max(len(item["view"]) for item in listed)
        return "".join(f"{item['view']:<{width}}  {item['description']}\n" for item in listed)
    columns = list(listed[0])
    return QueryResult(columns, [tuple(item.values()) for item in listed]).format(output_format)


def _query(args: argparse.Namespace) -> str:
    if args.query:
        if args.view or args.playlist or args.week or args.limit is not None:
            args.parser.error("--playlist, --week and --limit go with a view, not with --query")
        return args.query
    return catalog.view_query(args.view, playlist=args.playlist, week=args.week, limit=args.limit)


def run(args: argparse.Namespace) -> int:
    if args.list:
        sys.stdout.write(_list_views(args.format))
        return 0
    if args.ddl:
        sys.stdout.write(";\n\n".join(catalog.create_view_statements()) + ";\n")
        return 0
    if not (args.view or args.query):
        args.parser.error("name a view (see --list) or give --query")
    try:
        query = _query(args)
    except catalog.UnknownViewError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.playlist and deployment.deployment_name() == deployment.LOCAL:
        problem = _playlist_not_in_lake(args.playlist, deployment.data_dir())
        if problem:
            print(problem, file=sys.stderr)
            return 2
    if deployment.deployment_name() == deployment.AWS and not args.run_on_athena:
        sys.stdout.write(athena_query_text(query) + ";\n")
        print("-- the query for Athena: run it in the console, or add --run", file=sys.stderr)
        return 0
    try:
        result = _run_query(query)
    except (duckdb.Error, AthenaQueryError, BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(result.format(args.format))
    return 0


def _playlist_not_in_lake(playlist: str, data_dir: Path) -> str | None:
    """What to tell a user who asks for a playlist the local lake has no week of (a typo, or
    one not materialized yet), with the playlists it does hold; None when it has the playlist."""
    in_lake = lake_playlists(data_dir)
    if playlist in in_lake:
        return None
    lines = [f"error: no playlist {playlist!r} in the lake at {data_dir}"]
    try:
        configured = playlist in deployment.configured_playlist_ids()
    except ValueError:  # SPOTIFY_PLAYLISTS unreadable: the hint does without it
        configured = False
    if configured:
        name = printable(playlist_names([playlist])[playlist])
        lines.append(
            f"it is configured{f' ({name})' if name else ''}, but none of its weeks is "
            "materialized yet (`spotify-assets playlists --partitions` lists its partition keys)"
        )
    if in_lake:
        lines.append(f"the lake holds {len(in_lake)} playlist{'s' if len(in_lake) > 1 else ''}:")
        lines += [f"  {line}" for line in playlist_lines(playlist_names(in_lake))]
    else:
        lines.append(
            "the lake has no playlists yet: materialize some weeks first, one run per key of "
            "`spotify-assets playlists --partitions`"
        )
    return "\n".join(lines)


def _run_query(query: str) -> QueryResult:
    if deployment.deployment_name() == deployment.AWS:
        return AthenaLake().query(query)
    data_dir = deployment.data_dir()
    if lake_is_empty(data_dir):
        print(
            f"note: the lake at {data_dir} has no normalized tables yet; materialize some weeks "
            "first, one run per key of `spotify-assets playlists --partitions`",
            file=sys.stderr,
        )
    return DuckDBLake(data_dir).query(query)


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "sql",
        help="Run a view or a query over the lake (DuckDB locally, Athena in aws).",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("view", nargs="?", help="a view's name (see --list)")
    parser.add_argument("-q", "--query", help="a SQL query over the lake's tables and views")
    parser.add_argument("--playlist", type=playlist_id, help="only this playlist (id, URI or URL)")
    parser.add_argument(
        "--week", type=week, help="only this week (YYYY-MM-DD), or 'latest' for each playlist's"
    )
    parser.add_argument("--limit", type=int, help="at most this many rows")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    parser.add_argument("--list", action="store_true", help="name the views and what they hold")
    parser.add_argument(
        "--ddl",
        action="store_true",
        help="print CREATE OR REPLACE VIEW for every view (for Athena or DuckDB)",
    )
    parser.add_argument(
        "--run",
        dest="run_on_athena",
        action="store_true",
        help="aws: run the query on Athena instead of printing it",
    )
    parser.set_defaults(run=run, parser=parser)
