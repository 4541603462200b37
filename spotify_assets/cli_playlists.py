"""``spotify-assets playlists``: the playlists by name, with the weeks recorded for them;
``--partitions`` prints their Dagster partition keys instead, for shell loops. What the replay
folder holds that is not a recording is named on stderr, as skipped.

``spotify-assets playlists add|remove <url|uri|id>...`` gives a playlist partitions, or takes
them away (its data stays), in the Dagster instance of this folder (``DAGSTER_HOME``, else
``./dagster.yaml``) or, with ``--url``, of a running deployment: a self-hosted Dagster webserver
(``http://host:3000``) or Dagster+ (``https://<org>.dagster.cloud/<deployment>``, with
``DAGSTER_CLOUD_API_TOKEN``). The weekly schedule snapshots it from its next tick.

A playlist's name comes from the local serving store's ``playlists`` table, else from its latest
recording when replaying, else from its latest raw snapshot in the local data dir. A listing never
calls Spotify: a live playlist with none of these is listed by its id alone.
"""

import argparse
import json
import os
import sys
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from spotify_assets import constants, deployment
from spotify_assets.io_managers.object_store import JSON, partition_path
from spotify_assets.playlist_partitions import (
    PLAYLIST_PARTITIONS_NAME,
    add_playlists,
    instance_at_load,
    partitioned_playlist_ids,
    remove_playlists,
)
from spotify_assets.sources import PlaylistSource, ReplaySource
from spotify_assets.sources.replay import recorded_playlist_name, recorded_weeks
from spotify_assets.sources.spotify_api import latest_completed_week, utc_now
from spotify_assets.sources.spotify_settings import parse_playlist_id
from spotify_assets.web.serving_reader import served_playlist_names

RAW_PLAYLIST_JSON = "playlist_json"
LIVE = "live from Spotify"


def stored_playlist_name(data_dir: Path, playlist_id: str) -> str | None:
    """The playlist's name in its newest ``raw/playlist_json`` snapshot under a local data dir;
    None without a readable one."""
    folder = Path(data_dir) / constants.RAW / RAW_PLAYLIST_JSON
    weeks = sorted(
        (path.name.removeprefix("week=") for path in folder.glob("week=*")), reverse=True
    )
    for week in weeks:
        path = partition_path(folder, RAW_PLAYLIST_JSON, JSON, playlist_id, week)
        if path.is_file():
            try:
                playlist = json.loads(path.read_bytes())
            except (OSError, ValueError):
                return None
            name = playlist.get("name") if isinstance(playlist, dict) else None
            return name if isinstance(name, str) and name.strip() else None
    return None


def playlist_names(
    playlist_ids: Iterable[str], source: PlaylistSource | None = None
) -> dict[str, str | None]:
    """Each playlist's name without calling Spotify: from the local serving store's
    ``playlists`` table (the newest week served), else from its latest recording when replaying,
    else from its latest raw snapshot in the local data dir; None when none has it."""
    source = source or deployment.playlist_source()
    playlist_ids = list(playlist_ids)
    # In aws the lake is in S3 and the store in DynamoDB: the names there are the read API's.
    local = deployment.deployment_name() == deployment.LOCAL
    data_dir = deployment.data_dir()
    served = (
        served_playlist_names(data_dir / constants.SQLITE_FILE_NAME, playlist_ids) if local else {}
    )
    names: dict[str, str | None] = {}
    for playlist_id in playlist_ids:
        name = served.get(playlist_id)
        if name is None and isinstance(source, ReplaySource):
            name = recorded_playlist_name(source.replay_dir, playlist_id)
        if name is None and local:
            name = stored_playlist_name(data_dir, playlist_id)
        names[playlist_id] = name
    return names


def sorted_by_name(names: dict[str, str | None]) -> list[str]:
    """The playlist ids sorted by name (ignoring case), those without a name last, by id."""
    return sorted(names, key=lambda key: (names[key] is None, (names[key] or "").casefold(), key))


def printable(name: str | None) -> str:
    """A name on one line: names may hold newlines, tabs and terminal control characters."""
    text = " ".join((name or "").split())
    return "".join(char for char in text if unicodedata.category(char) != "Cc")


def display_width(text: str) -> int:
    """The terminal columns ``text`` takes: wide characters (CJK, most emoji) two, combining
    marks, joiners and what a zero-width joiner glues on none."""
    width, after_joiner = 0, False
    for char in text:
        if after_joiner or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            pass
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            width += 2
        else:
            width += 1
        after_joiner = char == "\u200d"
    return width


def label(playlist_id: str, name: str | None) -> str:
    """``<id>  <name>``, or the id alone without a name."""
    return f"{playlist_id}  {printable(name)}".rstrip()


def playlist_lines(
    names: dict[str, str | None], details: dict[str, str] | None = None
) -> list[str]:
    """One line per playlist, sorted by name: ``<id>  <name>``, then its detail (if any) in a
    column of its own."""
    ordered = sorted_by_name(names)
    if not details:
        return [label(playlist_id, names[playlist_id]) for playlist_id in ordered]
    shown = {playlist_id: printable(names[playlist_id]) for playlist_id in ordered}
    width = max((display_width(name) for name in shown.values()), default=0)
    lines = []
    for playlist_id, name in shown.items():
        name_column = f"{name}{' ' * (width - display_width(name))}  " if width else ""
        lines.append(f"{playlist_id}  {name_column}{details[playlist_id]}")
    return lines


def _weeks(source: PlaylistSource, playlist_id: str) -> list[str]:
    """The weeks that can be materialized: the recorded ones when replaying; live, only the
    latest completed week (Spotify cannot return the past)."""
    if isinstance(source, ReplaySource):
        return recorded_weeks(source.replay_dir, playlist_id)
    return [latest_completed_week(utc_now())]


def _span(source: PlaylistSource, playlist_id: str) -> str:
    if not isinstance(source, ReplaySource):
        return LIVE
    weeks = recorded_weeks(source.replay_dir, playlist_id)
    return f"{weeks[0]} .. {weeks[-1]} ({len(weeks)} weeks)" if weeks else "no recordings"


def listed_playlist_ids() -> list[str]:
    """The configured playlists, then those added to this folder's Dagster instance."""
    configured = deployment.configured_playlist_ids()
    instance = instance_at_load()
    if instance is None:
        return configured
    with instance:
        return list(dict.fromkeys([*configured, *partitioned_playlist_ids(instance)]))


def run(args: argparse.Namespace) -> int:
    if args.action:
        return change_partitions(args)
    for warning in deployment.replay_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    source = deployment.playlist_source()
    names = playlist_names(listed_playlist_ids(), source)
    if not names:
        print(
            f"no playlists configured: set {constants.ENV_PLAYLISTS}, or record some under "
            f"{constants.ENV_REPLAY_DIR} (<dir>/<playlist id>/<YYYY-MM-DD>.json)",
            file=sys.stderr,
        )
        return 0
    if not args.partitions:
        details = {playlist_id: _span(source, playlist_id) for playlist_id in names}
        for line in playlist_lines(names, details):
            print(line)
        return 0
    # Only the keys go to stdout, for `for key in $(spotify-assets playlists --partitions)`;
    # the names go to stderr, as comment lines. Oldest week first: the serving tables take the
    # newest week's attributes, and a week older than one already served writes no entity rows.
    ordered = sorted_by_name(names)
    for playlist_id in ordered:
        print(f"# {label(playlist_id, names[playlist_id])}", file=sys.stderr, flush=True)
    keys = [(week, playlist_id) for playlist_id in ordered for week in _weeks(source, playlist_id)]
    for week, playlist_id in sorted(keys, key=lambda key: (key[0], ordered.index(key[1]))):
        print(f"{playlist_id}|{week}")
    return 0


CODE_LOCATION = "spotify_assets"
GRAPHQL_TIMEOUT_SECONDS = 30
ADD_MUTATION = """
mutation ($selector: RepositorySelector!, $name: String!, $key: String!) {
  addDynamicPartition(repositorySelector: $selector, partitionsDefName: $name, partitionKey: $key) {
    __typename
    ... on Error { message }
  }
}"""
DELETE_MUTATION = """
mutation ($selector: RepositorySelector!, $name: String!, $keys: [String!]!) {
  deleteDynamicPartitions(
    repositorySelector: $selector, partitionsDefName: $name, partitionKeys: $keys
  ) {
    __typename
    ... on Error { message }
  }
}"""


class PartitionsError(Exception):
    """A change of the playlist partitions that could not be made; the message says why."""


def change_partitions(args: argparse.Namespace) -> int:
    try:
        playlist_ids = [parse_playlist_id(text) for text in args.playlists]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        if args.url:
            changed = change_deployment_partitions(args.url, args.action, playlist_ids)
        else:
            changed = change_local_partitions(args.action, playlist_ids)
    except PartitionsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    done = "added" if args.action == "add" else "removed"
    unchanged = [playlist_id for playlist_id in playlist_ids if playlist_id not in changed]
    for playlist_id in changed:
        print(f"{done}: {playlist_id}")
    for playlist_id in unchanged:
        print(f"unchanged: {playlist_id} (already {'there' if done == 'added' else 'absent'})")
    return 0


def change_local_partitions(action: str, playlist_ids: list[str]) -> list[str]:
    """Adds or removes playlists in this folder's Dagster instance; returns those changed."""
    instance = instance_at_load()
    if instance is None:
        raise PartitionsError(
            "no Dagster instance here: set DAGSTER_HOME, run from the project's folder (its "
            "dagster.yaml), or pass --url to change a running deployment"
        )
    with instance:
        if action == "add":
            _warn_without_recordings(playlist_ids)
            return add_playlists(instance, playlist_ids)
        configured = set(deployment.configured_playlist_ids())
        if kept := [playlist_id for playlist_id in playlist_ids if playlist_id in configured]:
            raise PartitionsError(
                f"{', '.join(kept)}: configured ({constants.ENV_PLAYLISTS}, else the replay "
                "folder), so loading the definitions adds it back; take it out there and the "
                "playlist_partitions sensor removes its partitions"
            )
        return remove_playlists(instance, playlist_ids)


def _warn_without_recordings(playlist_ids: list[str]) -> None:
    source = deployment.playlist_source()
    if not isinstance(source, ReplaySource):
        return
    for playlist_id in playlist_ids:
        if not recorded_weeks(source.replay_dir, playlist_id):
            print(
                f"warning: {playlist_id} has no recordings in the replay folder "
                f"{source.replay_dir}: its runs fail until it has some, or until Spotify is "
                "configured (docs/spotify.md)",
                file=sys.stderr,
            )


def change_deployment_partitions(url: str, action: str, playlist_ids: list[str]) -> list[str]:
    """Adds or removes playlists through a deployment's GraphQL API (the mutations the UI's
    *Add partition* uses); returns those changed. Removing keeps the materializations."""
    selector = {"repositoryLocationName": CODE_LOCATION, "repositoryName": "__repository__"}
    if action == "remove":
        variables = {"selector": selector, "name": PLAYLIST_PARTITIONS_NAME, "keys": playlist_ids}
        _graphql(url, DELETE_MUTATION, variables, "deleteDynamicPartitions")
        return playlist_ids
    added = []
    for playlist_id in playlist_ids:
        variables = {"selector": selector, "name": PLAYLIST_PARTITIONS_NAME, "key": playlist_id}
        kind = _graphql(url, ADD_MUTATION, variables, "addDynamicPartition", duplicate_ok=True)
        if kind != "DuplicateDynamicPartitionError":
            added.append(playlist_id)
    return added


def _graphql(url: str, query: str, variables: dict, field: str, duplicate_ok: bool = False) -> str:
    """Runs one mutation; returns the result's type name, or fails saying what the server said."""
    endpoint = url.rstrip("/") + "/graphql"
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("DAGSTER_CLOUD_API_TOKEN", "").strip():
        headers["Dagster-Cloud-Api-Token"] = token
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=GRAPHQL_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise PartitionsError(f"{endpoint} answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise PartitionsError(
            f"could not reach Dagster's GraphQL API at {endpoint}: {error}"
        ) from None
    if answer.get("errors"):
        messages = "; ".join(error.get("message", "?") for error in answer["errors"])
        raise PartitionsError(f"{endpoint}: {messages}")
    result = (answer.get("data") or {}).get(field) or {}
    kind = result.get("__typename", "?")
    if kind.endswith("Success") or (duplicate_ok and kind == "DuplicateDynamicPartitionError"):
        return kind
    raise PartitionsError(f"{endpoint}: {kind}: {result.get('message', 'no message')}")


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "playlists",
        help="List the configured playlists by name, with their recorded weeks.",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--partitions",
        action="store_true",
        help="Print one Dagster partition key (playlist|week) per line instead, oldest week "
        "first, then by the playlists' names; the names go to stderr as '# <id>  <name>' lines.",
    )
    actions = parser.add_subparsers(dest="action")
    for action, what in [
        ("add", "Give playlists partitions: snapshotted from the next weekly run."),
        ("remove", "Take playlists' partitions away: no more snapshots; their data stays."),
    ]:
        changer = actions.add_parser(action, help=what, description=what)
        changer.add_argument("playlists", nargs="+", metavar="url|uri|id")
        changer.add_argument(
            "--url",
            help="a running deployment's UI: http://host:3000 (self-hosted) or "
            "https://<org>.dagster.cloud/<deployment> (Dagster+, token in "
            "DAGSTER_CLOUD_API_TOKEN); without it, this folder's Dagster instance",
        )
    parser.set_defaults(run=run)
