"""``spotify-assets aws``: the aws deployment's storage, from the same settings as the runs."""

import argparse
import json
import sys

from spotify_assets import constants, deployment
from spotify_assets.aws.storage import create_bucket, create_tables
from spotify_assets.aws.tables import ALL_TABLES


def init(args: argparse.Namespace) -> int:
    storage = deployment.aws_storage()
    missing = [
        variable
        for variable in storage.missing_variables
        if variable == constants.ENV_DYNAMODB_TABLE_PREFIX or not (args.print or args.no_bucket)
    ]
    if missing:
        print(f"spotify-assets aws init: set {' and '.join(missing)} first", file=sys.stderr)
        return 2
    if args.print:
        requests = [
            table.create_table_request(storage.table_prefix) for table in ALL_TABLES.values()
        ]
        print(json.dumps(requests, indent=2))
        return 0
    try:
        dynamodb = deployment.dynamodb_resource().get_client()
    except ValueError as error:  # no region
        print(f"spotify-assets aws init: {error}", file=sys.stderr)
        return 2
    for name, created in create_tables(dynamodb, storage.table_prefix).items():
        print(f"{'created' if created else 'exists '} DynamoDB table {name}")
    if not args.no_bucket:
        created = create_bucket(deployment.s3_resource().get_client(), storage.bucket)
        print(f"{'created' if created else 'exists '} S3 bucket {storage.bucket}")
        print(f"objects go under s3://{storage.bucket}/{storage.s3_prefix}")
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "aws", help="The aws deployment's storage (SPOTIFY_ASSETS_ENV=aws)."
    )
    commands = parser.add_subparsers(dest="aws_command", required=True)
    init_parser = commands.add_parser(
        "init",
        help="Create the DynamoDB tables and the S3 bucket that do not exist yet, for development "
        "(moto's server, LocalStack) or a first try; uses SPOTIFY_ASSETS_S3_BUCKET, "
        "SPOTIFY_ASSETS_DYNAMODB_TABLE_PREFIX, AWS_REGION and AWS_ENDPOINT_URL.",
    )
    init_parser.add_argument(
        "--no-bucket", action="store_true", help="Leave the bucket alone (it exists elsewhere)."
    )
    init_parser.add_argument(
        "--print",
        action="store_true",
        help="Only print the CreateTable requests, as JSON; needs no AWS access.",
    )
    init_parser.set_defaults(run=init)
