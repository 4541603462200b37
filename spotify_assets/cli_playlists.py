"""``spotify-assets playlists``: the configured playlists and the weeks recorded for them."""

import argparse

from spotify_assets import deployment
from spotify_assets.sources import ReplaySource
from spotify_assets.sources.replay import recorded_weeks


def run(args: argparse.Namespace) -> int:
    source = deployment.playlist_source()
    for playlist_id in deployment.configured_playlist_ids():
        if not isinstance(source, ReplaySource):
            # Live: only the latest completed week can be read from Spotify.
            print(f"{playlist_id}  live from Spotify")
            continue
        weeks = recorded_weeks(source.replay_dir, playlist_id)
        if args.partitions:
            for week in weeks:
                print(f"{playlist_id}|{week}")
        else:
            span = f"{weeks[0]} .. {weeks[-1]} ({len(weeks)} weeks)" if weeks else "no recordings"
            print(f"{playlist_id}  {span}")
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "playlists", help="List the configured playlists and their recorded weeks."
    )
    parser.add_argument(
        "--partitions",
        action="store_true",
        help="Print one Dagster partition key (playlist|week) per recorded week instead.",
    )
    parser.set_defaults(run=run)
