"""``spotify-assets``: the project's command line. Each command lives beside the code it drives
and adds itself here through a ``register(subcommands)`` function."""

import argparse
import importlib
import sys
from pathlib import Path

from dotenv import load_dotenv  # a dependency of dagster

# Modules with a `register(subcommands)` function, one or more commands each.
COMMAND_MODULES = [
    "spotify_assets.cli_playlists",
    "spotify_assets.sources.login",
    "spotify_assets.aws.cli",
    "spotify_assets.cli_sql",
    "spotify_assets.cli_dashboard",
    "spotify_assets.cli_serving",
    "spotify_assets.cli_export",
    "spotify_assets.web.cli",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spotify-assets", description=__doc__.split(".")[0])
    subcommands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subcommands)
    args = parser.parse_args(argv)
    return args.run(args) or 0


def console() -> int:
    """The ``spotify-assets`` command. It reads the ``.env`` of the current folder as `dg dev`
    and `dg launch` do (the file's values win), so that ``playlists --partitions``, ``sql`` and
    ``serve`` see the playlists and the data dir that the runs see."""
    load_dotenv(Path.cwd() / ".env", override=True)
    return main()


if __name__ == "__main__":
    sys.exit(console())
