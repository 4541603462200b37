"""Which stores the web app reads: the local data dir (SQLite and the dashboard files), or S3
and DynamoDB in the aws deployment, named by the deployment's variables (design.md).

Read here without :mod:`spotify_assets.deployment`, which imports Dagster: the Lambda gets the
final names from its stack. ``spotify-assets serve`` takes them from the deployment module
instead, so that a Dagster+ branch's prefixes apply.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from spotify_assets import constants
from spotify_assets.web.api import ReadApi
from spotify_assets.web.dashboard_files import DashboardFiles, LocalFiles, S3Files
from spotify_assets.web.serving_reader import DynamoDBServingReader, SQLiteServingReader

LOCAL, AWS = "local", "aws"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A page view is a dozen small reads: fail fast rather than hold a Lambda for its whole timeout.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
)


class MissingSettingError(ValueError):
    """A variable the aws deployment needs is not set."""


@dataclass(frozen=True)
class WebSettings:
    """Where the data is: ``data_dir`` locally; bucket, prefix and table prefix in aws."""

    deployment: str = LOCAL
    data_dir: Path = PROJECT_ROOT / "data"
    bucket: str | None = None
    s3_prefix: str = ""
    table_prefix: str | None = None
    region: str | None = None

    def describe(self) -> str:
        if self.deployment == LOCAL:
            return f"{self.data_dir} (SQLite and dashboard files)"
        where = f"s3://{self.bucket}/{self.s3_prefix}".rstrip("/")
        return f"{where} and DynamoDB tables {self.table_prefix}*"


def settings_from_environment() -> WebSettings:
    """The settings from ``SPOTIFY_ASSETS_*`` and ``AWS_REGION``, as they are set."""
    deployment = os.environ.get(constants.ENV_DEPLOYMENT, "").strip().lower() or LOCAL
    if deployment not in (LOCAL, AWS):
        raise MissingSettingError(
            f"{constants.ENV_DEPLOYMENT} must be '{LOCAL}' or '{AWS}', not {deployment!r}"
        )
    return WebSettings(
        deployment=deployment,
        data_dir=Path(os.environ.get(constants.ENV_DATA_DIR) or PROJECT_ROOT / "data"),
        bucket=os.environ.get(constants.ENV_S3_BUCKET, "").strip() or None,
        s3_prefix=os.environ.get(constants.ENV_S3_PREFIX, "").strip().strip("/"),
        table_prefix=os.environ.get(constants.ENV_DYNAMODB_TABLE_PREFIX, "").strip() or None,
        region=os.environ.get("AWS_REGION", "").strip() or None,
    )


def build_api(settings: WebSettings) -> ReadApi:
    """The read API over the deployment's stores. AWS clients take their endpoint
    (``AWS_ENDPOINT_URL``) and credentials from the standard places."""
    if settings.deployment == LOCAL:
        return ReadApi(
            SQLiteServingReader(settings.data_dir / constants.SQLITE_FILE_NAME),
            DashboardFiles(LocalFiles(settings.data_dir)),
        )
    missing = [
        name
        for name, value in [
            (constants.ENV_S3_BUCKET, settings.bucket),
            (constants.ENV_DYNAMODB_TABLE_PREFIX, settings.table_prefix),
        ]
        if not value
    ]
    if missing:
        raise MissingSettingError(f"the aws deployment needs {' and '.join(missing)}")
    session = boto3.session.Session()
    region = settings.region or session.region_name
    if not region:
        raise MissingSettingError("the aws deployment needs AWS_REGION (or AWS_DEFAULT_REGION)")
    dynamodb = session.client("dynamodb", region_name=region, config=CLIENT_CONFIG)
    s3 = session.client("s3", region_name=region, config=CLIENT_CONFIG)
    return ReadApi(
        DynamoDBServingReader(dynamodb, settings.table_prefix),
        DashboardFiles(S3Files(s3, settings.bucket, settings.s3_prefix)),
    )
