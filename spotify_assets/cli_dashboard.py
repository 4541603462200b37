"""``spotify-assets dashboard``: rebuilds the dashboard's files from the whole lake.

The ``analytics/dashboard`` asset refreshes only the playlists whose lake changed since its
previous run. This rebuilds every playlist's files and the index, as the asset's first run
does: after lake files were changed outside Dagster, or to start the dashboard over. Locally
DuckDB reads the lake under SPOTIFY_ASSETS_DATA_DIR and the files go beside it; with
SPOTIFY_ASSETS_ENV=aws Athena reads the lake and the files go to S3.
"""

import argparse
import sys

from spotify_assets import constants, deployment


def object_store():
    """The deployment's object store, as the runs write through it."""
    if deployment.deployment_name() == deployment.AWS:
        import boto3

        from spotify_assets.io_managers.s3 import S3ObjectStoreIOManager

        storage = deployment.aws_storage()
        if storage.bucket is None:
            raise ValueError(f"{constants.ENV_S3_BUCKET} is not set")
        client = boto3.client("s3", region_name=deployment.aws_region())
        return S3ObjectStoreIOManager(client, storage.bucket, storage.s3_prefix)
    from upath import UPath

    from spotify_assets.io_managers.object_store import ObjectStoreIOManager

    return ObjectStoreIOManager(base_path=UPath(deployment.data_dir()))


def run(args: argparse.Namespace) -> int:
    from spotify_assets.assets.analytics import write_dashboard
    from spotify_assets.sql.dashboard import DASHBOARD_FOLDER
    from spotify_assets.sql.lake import object_store_root

    try:
        store = object_store()
    except ValueError as error:
        print(f"spotify-assets dashboard: {error}", file=sys.stderr)
        return 2
    update = write_dashboard(store, changed=None)
    for view, errors in sorted(update.failures.items()):
        for playlist, error in sorted(errors.items()):
            print(f"warning: view {view} failed for playlist {playlist}: {error}", file=sys.stderr)
    count = len(update.playlists)
    print(
        f"wrote {len(update.files)} files for {count} playlist{'' if count == 1 else 's'} "
        f"to {object_store_root(store) / DASHBOARD_FOLDER}"
    )
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "dashboard",
        help="Rebuild the dashboard's files from the whole lake (every playlist).",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run, parser=parser)
