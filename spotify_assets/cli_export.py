"""``spotify-assets export``: one playlist's snapshot of one week, from the lake, as CSV, JSON or
M3U: each entry's position, name, artists and Spotify URI, to recreate the playlist elsewhere or
to compare two weeks.

Locally DuckDB reads the Parquet files under the data dir; with ``SPOTIFY_ASSETS_ENV=aws`` the
same queries run on Athena. ``--week latest`` is the playlist's newest snapshot in the lake, an
empty one included. Nothing is sent to Spotify: restoring a snapshot there needs scopes the
project does not ask for (see docs/guide.md).
"""

import argparse
import sys
from pathlib import Path

import duckdb
from botocore.exceptions import BotoCoreError, ClientError

from spotify_assets import deployment
from spotify_assets.cli_sql import playlist_id, week
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import AthenaLake, AthenaQueryError
from spotify_assets.sql.catalog import sql_string
from spotify_assets.sql.duckdb_lake import DuckDBLake
from spotify_assets.sql.lake import Lake
from spotify_assets.transforms.export import FORMATS, Snapshot, export_text, snapshot_entries

QUERY_ERRORS = (duckdb.Error, AthenaQueryError, BotoCoreError, ClientError)


def weeks_query(playlist: str) -> str:
    """Every week the lake holds a snapshot of ``playlist``: from the playlists table (which has
    a row for an empty snapshot) and from the entries (a lake written before that table)."""
    where = f"WHERE playlist = {sql_string(playlist)}"
    return (
        "SELECT DISTINCT CAST(week AS VARCHAR) AS week\nFROM (\n"
        f"    SELECT week FROM playlists {where}\n"
        "    UNION ALL\n"
        f"    SELECT week FROM playlist_entries {where}\n"
        ") AS weeks\nORDER BY week"
    )


def snapshot_queries(playlist: str, snapshot_week: str) -> dict[str, str]:
    """The playlist's row and its entries with their credited artists, one row per entry and
    artist, for one week. Every table is filtered on its own partition columns, so each engine
    reads that one partition of each."""

    def partition(alias: str) -> str:
        return (
            f"{alias}.playlist = {sql_string(playlist)} "
            f"AND {alias}.week = DATE {sql_string(snapshot_week)}"
        )

    return {
        "playlist": f"SELECT p.name, p.snapshot_id\nFROM playlists AS p\nWHERE {partition('p')}",
        "entries": (
            "SELECT e.position, e.item_type, e.name, e.uri, e.duration_ms,\n"
            "    sa.artist_position, a.artist_name\n"
            "FROM playlist_entries AS e\n"
            "LEFT JOIN song_artists AS sa\n"
            f"    ON sa.song_id = e.song_id AND {partition('sa')}\n"
            "LEFT JOIN artists AS a\n"
            f"    ON a.artist_id = sa.artist_id AND {partition('a')}\n"
            f"WHERE {partition('e')}\n"
            "ORDER BY e.position, sa.artist_position"
        ),
    }


class NoSnapshot(LookupError):
    """The lake holds no snapshot of the playlist for the week asked; says which weeks it has."""


def read_snapshot(lake: Lake, playlist: str, wanted_week: str) -> Snapshot:
    """The playlist's snapshot of ``wanted_week`` (an ISO date or ``latest``) from the lake."""
    weeks = [record["week"] for record in lake.query(weeks_query(playlist)).records()]
    if not weeks:
        raise NoSnapshot(f"the lake holds no snapshot of playlist {playlist!r}")
    snapshot_week = weeks[-1] if wanted_week == catalog.LATEST else wanted_week
    if snapshot_week not in weeks:
        shown = ", ".join(weeks[-5:])
        raise NoSnapshot(
            f"the lake holds no snapshot of playlist {playlist!r} for week {snapshot_week}; "
            f"it has {len(weeks)} week{'s' if len(weeks) > 1 else ''}, the last: {shown}"
        )
    results = lake.query_many(snapshot_queries(playlist, snapshot_week))
    [row] = results["playlist"].records() or [{"name": None, "snapshot_id": None}]
    return Snapshot(
        playlist=playlist,
        week=snapshot_week,
        name=row["name"],
        snapshot_id=row["snapshot_id"],
        entries=snapshot_entries(results["entries"].records()),
    )


def _lake() -> Lake:
    if deployment.deployment_name() == deployment.AWS:
        return AthenaLake()
    return DuckDBLake(deployment.data_dir())


def run(args: argparse.Namespace) -> int:
    try:
        snapshot = read_snapshot(_lake(), args.playlist, args.week)
    except NoSnapshot as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except QUERY_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = export_text(snapshot, args.format)
    if args.output:
        # newline="": the CSV's CRLF line ends are written as they are.
        Path(args.output).write_text(text, encoding="utf-8", newline="")
        print(
            f"{len(snapshot.entries)} entries of playlist {snapshot.playlist}, week "
            f"{snapshot.week}, written to {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "export",
        help="Write one playlist's snapshot of a week (position, name, artists, URI) as CSV, "
        "JSON or M3U.",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--playlist", type=playlist_id, required=True, help="the playlist (id, URI or URL)"
    )
    parser.add_argument(
        "--week",
        type=week,
        default=catalog.LATEST,
        help="the week (YYYY-MM-DD, its Monday), or 'latest' (default): the newest in the lake",
    )
    parser.add_argument("--format", choices=FORMATS, default="csv", help="default: csv")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    parser.set_defaults(run=run)
