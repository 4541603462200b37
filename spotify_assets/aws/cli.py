"""``spotify-assets aws``: the aws deployment's storage, from the same settings as the runs."""

import argparse
import json
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from spotify_assets import constants, deployment
from spotify_assets.aws import dagster_plus, template
from spotify_assets.aws.branches import NotABranchError, delete_branch_tables
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


def write_template(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_file():
        print(f"spotify-assets aws template: no template at {path}", file=sys.stderr)
        return 2
    try:
        difference = template.drift(path)
    except template.TemplateDriftError as error:
        print(f"spotify-assets aws template: {path}: {error}", file=sys.stderr)
        return 2
    if not difference:
        print(f"{path} is up to date")
        return 0
    if args.check:
        sys.stdout.write(difference)
        print(
            f"{path} differs from the code: run `spotify-assets aws template` and commit it",
            file=sys.stderr,
        )
        return 1
    path.write_text(template.with_generated(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"updated {path}")
    return 0


def write_dagster_plus(args: argparse.Namespace) -> int:
    try:
        cloudformation = boto3.client("cloudformation", region_name=deployment.aws_region())
        outputs, playlists = dagster_plus.stack_outputs(cloudformation, args.stack)
        written = dagster_plus.files(args.stack, outputs, playlists)
    except KeyError as error:
        print(
            f"spotify-assets aws dagster-plus: stack {args.stack} has no {error.args[0]}: is it "
            "deploy/aws/spotify-assets.yaml?",
            file=sys.stderr,
        )
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"spotify-assets aws dagster-plus: {error}", file=sys.stderr)
        return 2
    for relative_path, text in written.items():
        path = Path(args.project_dir) / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


def drop_branch(args: argparse.Namespace) -> int:
    try:
        deleted = delete_branch_tables(deployment.dynamodb_resource().get_client())
    except (NotABranchError, ValueError) as error:
        print(f"spotify-assets aws drop-branch: {error}", file=sys.stderr)
        return 2
    for name, existed in deleted.items():
        print(f"{'deleted' if existed else 'absent '} DynamoDB table {name}")
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "aws",
        help="The aws deployment (SPOTIFY_ASSETS_ENV=aws): its storage, the stack's template, "
        "the Dagster+ files.",
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

    template_parser = commands.add_parser(
        "template",
        help="Write the CloudFormation resources the code defines (DynamoDB tables, Glue tables, "
        "the runs' IAM policies) into the stack's template; --check only compares.",
    )
    template_parser.add_argument(
        "path",
        nargs="?",
        default=str(template.TEMPLATE_PATH),
        help=f"The template (default: {template.TEMPLATE_PATH}, from the project's root).",
    )
    template_parser.add_argument(
        "--check",
        action="store_true",
        help="Change nothing; print the difference and exit 1 if the template is out of date.",
    )
    template_parser.set_defaults(run=write_template)

    dagster_plus_parser = commands.add_parser(
        "dagster-plus",
        help="Write build.yaml, container_context.yaml and the branch deployments' container "
        "context from the outputs of the deployment's CloudFormation stack.",
    )
    dagster_plus_parser.add_argument(
        "--stack", default="spotify-assets", help="The stack's name (default: spotify-assets)."
    )
    dagster_plus_parser.add_argument(
        "--project-dir", default=".", help="The project's root (default: the current folder)."
    )
    dagster_plus_parser.set_defaults(run=write_dagster_plus)

    drop_parser = commands.add_parser(
        "drop-branch",
        help="Delete the DynamoDB tables of the current Dagster+ branch deployment "
        "(DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT=1, DAGSTER_CLOUD_PULL_REQUEST_ID); refuses anywhere "
        "else. Its lake folder expires by the bucket's lifecycle rule.",
    )
    drop_parser.set_defaults(run=drop_branch)
