"""``spotify-assets``: the project's command line. Each command lives beside the code it drives
and adds itself here through a ``register(subcommands)`` function."""

import argparse
import importlib
import sys

# Modules with a `register(subcommands)` function, one or more commands each.
COMMAND_MODULES = [
    "spotify_assets.cli_playlists",
    "spotify_assets.sources.login",
    "spotify_assets.aws.cli",
    "spotify_assets.cli_sql",
    "spotify_assets.web.cli",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spotify-assets", description=__doc__.split(".")[0])
    subcommands = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(subcommands)
    args = parser.parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
