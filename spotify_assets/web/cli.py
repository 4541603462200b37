"""``spotify-assets serve``: the dashboard and its read API on http://127.0.0.1:8000/.

It reads what the runs wrote: locally the SQLite serving store and the dashboard files under
``SPOTIFY_ASSETS_DATA_DIR``; with ``SPOTIFY_ASSETS_ENV=aws`` DynamoDB and S3 (``AWS_ENDPOINT_URL``
honoured). The local server has no sign-in: it listens on 127.0.0.1 unless told otherwise, and
answers only requests for its own host (127.0.0.1, localhost, [::1], the --host it listens on
and those of --allow-host), so that a page of another site cannot read it through a DNS name
that points here (DNS rebinding).

``--build-site DIR`` and ``--build-lambda FILE`` write, instead of serving, what the AWS
deployment uploads (``deploy/aws/dashboard.yaml``): the site for its S3 bucket, the Lambda's zip.
"""

import argparse
import ipaddress
import sys
from collections.abc import Iterable
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def settings_of_deployment():
    """The web settings of the current deployment, branch prefixes included."""
    from spotify_assets import deployment
    from spotify_assets.web.settings import AWS, LOCAL, WebSettings

    if deployment.deployment_name() == deployment.LOCAL:
        return WebSettings(deployment=LOCAL, data_dir=deployment.data_dir())
    storage = deployment.aws_storage()
    return WebSettings(
        deployment=AWS,
        bucket=storage.bucket,
        s3_prefix=storage.s3_prefix,
        table_prefix=storage.table_prefix,
        region=deployment.aws_region(),
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def served_hosts(host: str, allowed: Iterable[str] = ()) -> list[str]:
    """The hosts a request may name (its ``Host`` header, the port aside) when the server
    listens on ``host``: the loopback names, ``host`` and the ``allowed`` ones."""
    names = {name.strip("[]").lower() for name in (*LOOPBACK_HOSTS, host, *allowed)}
    return sorted(f"[{name}]" if ":" in name else name for name in names)


def dashboard_url(host: str, port: int) -> str:
    """Where a browser on this machine finds the page served on ``host``."""
    # Listening on every address means on the loopback one too.
    host = {"0.0.0.0": DEFAULT_HOST, "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _build(args: argparse.Namespace) -> int:
    from spotify_assets.web.bundle import build_lambda_zip, build_site

    if args.build_site:
        auth = None
        if args.cognito_domain or args.cognito_client_id:
            if not (args.cognito_domain and args.cognito_client_id):
                args.parser.error("--cognito-domain and --cognito-client-id go together")
            auth = {"domain": args.cognito_domain.rstrip("/"), "client_id": args.cognito_client_id}
            auth["scopes"] = "openid email"
        written = build_site(args.build_site, auth)
        print(f"wrote {len(written)} files to {args.build_site}; upload them with")
        print(f"  aws s3 sync {args.build_site} s3://<SiteBucket>/ --delete")
    if args.build_lambda:
        names = build_lambda_zip(args.build_lambda)
        size = args.build_lambda.stat().st_size
        print(f"wrote {args.build_lambda}: {len(names)} files, {size:,} bytes")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.build_site or args.build_lambda:
        return _build(args)
    import uvicorn

    from spotify_assets.web.app import create_app
    from spotify_assets.web.server import server_config
    from spotify_assets.web.settings import MissingSettingError, build_api

    settings = settings_of_deployment()
    hosts = served_hosts(args.host, args.allow_host)
    try:
        app = create_app(build_api(settings), hosts=hosts)
    except MissingSettingError as error:
        print(f"spotify-assets serve: {error}", file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        print(
            f"warning: listening on {args.host}: anyone who reaches this machine can read the "
            "API, which has no sign-in when served locally. It answers requests for "
            f"{', '.join(hosts)} (--allow-host adds a name)",
            file=sys.stderr,
        )
    print(f"reading {settings.describe()}")
    print(f"Dashboard: {dashboard_url(args.host, args.port)}  (Ctrl+C stops it)", flush=True)
    uvicorn.Server(server_config(app, args.host, args.port, log_level=args.log_level)).run()
    return 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "serve",
        help="Serve the dashboard and its read API (http://127.0.0.1:8000/).",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"default: {DEFAULT_HOST}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name or address (say, the machine's name on "
        "the network, with --host 0.0.0.0); repeatable",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.add_argument(
        "--build-site", type=Path, metavar="DIR", help="write the AWS site into DIR instead"
    )
    parser.add_argument(
        "--cognito-domain",
        metavar="URL",
        help="with --build-site: the stack's CognitoDomain output (https://...)",
    )
    parser.add_argument(
        "--cognito-client-id", metavar="ID", help="with --build-site: the stack's UserPoolClientId"
    )
    parser.add_argument(
        "--build-lambda", type=Path, metavar="FILE", help="write the Lambda's zip to FILE instead"
    )
    parser.set_defaults(run=run, parser=parser)
