"""The one place that picks resources per deployment (``SPOTIFY_ASSETS_ENV``).

The asset code is the same everywhere; only what is returned here changes. A deployment's
modules are imported when its resources are built, not before: the local definitions load
without boto3 or dagster-aws, which cost most of a start-up.
"""

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from spotify_assets import constants
from spotify_assets.sources import SAMPLE_DATA_DIR, PlaylistSource, ReplaySource
from spotify_assets.sources.replay import recorded_weeks, skipped_replay_entries
from spotify_assets.sources.spotify_settings import (
    parse_playlist_ids,
    spotify_credentials_configured,
)

if TYPE_CHECKING:
    from dagster_aws.s3 import S3Resource

    from spotify_assets.io_managers.dynamodb import DynamoDBResource

LOCAL = "local"
AWS = "aws"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Set by Dagster+ in every branch deployment.
ENV_IS_BRANCH_DEPLOYMENT = "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT"
ENV_PULL_REQUEST_ID = "DAGSTER_CLOUD_PULL_REQUEST_ID"
ENV_DEPLOYMENT_NAME = "DAGSTER_CLOUD_DEPLOYMENT_NAME"


def deployment_name() -> str:
    """``SPOTIFY_ASSETS_ENV``; unset, ``aws`` in a Dagster+ branch deployment, else ``local``."""
    name = os.environ.get(constants.ENV_DEPLOYMENT, "").strip().lower()
    name = name or (AWS if branch_name() else LOCAL)
    if name not in (LOCAL, AWS):
        raise ValueError(f"{constants.ENV_DEPLOYMENT} must be '{LOCAL}' or '{AWS}', not {name!r}")
    return name


def data_dir() -> Path:
    """The local object store's root: ``SPOTIFY_ASSETS_DATA_DIR``, default ``data/``."""
    return Path(os.environ.get(constants.ENV_DATA_DIR) or PROJECT_ROOT / "data")


def playlist_source() -> PlaylistSource:
    """Spotify itself when the owner's credentials are set (``SPOTIFY_CLIENT_ID``,
    ``SPOTIFY_CLIENT_SECRET``, ``SPOTIFY_REFRESH_TOKEN``), else the replay of recordings."""
    if spotify_credentials_configured():
        from spotify_assets.sources.live import live_source_from_environment

        return live_source_from_environment()
    return ReplaySource(replay_dir=os.environ.get(constants.ENV_REPLAY_DIR) or str(SAMPLE_DATA_DIR))


def configured_playlist_ids() -> list[str]:
    """The playlists that get partitions: ``SPOTIFY_PLAYLISTS`` (ids, ``spotify:playlist:`` URIs
    or open.spotify.com URLs, comma-separated), else those of the replay folder.

    An entry of ``SPOTIFY_PLAYLISTS`` that is none of those fails the definitions, naming it:
    skipping it would quietly stop snapshotting a playlist the owner asked for, whereas a stray
    replay folder is only skipped (:func:`replay_warnings`)."""
    try:
        listed = parse_playlist_ids(os.environ.get(constants.ENV_PLAYLISTS, ""))
    except ValueError as error:
        raise ValueError(f"{constants.ENV_PLAYLISTS}: {error}") from None
    return listed or playlist_source().playlist_ids()


def replay_warnings() -> list[str]:
    """When replaying, what the replay folder holds that is not a recording, one line each (see
    :mod:`spotify_assets.sources.replay`); none live."""
    source = playlist_source()
    return skipped_replay_entries(source.replay_dir) if isinstance(source, ReplaySource) else []


def week_range() -> tuple[str, str | None]:
    """The first and the last week that get partitions. Replaying: the first and the last
    recorded week (of the files that are recordings: :func:`replay_warnings` names the others),
    so every partition the UI offers (*Latest* included) has data. Live: ``FIRST_WEEK`` and
    None, so the weeks run on to the last completed one."""
    source = playlist_source()
    if isinstance(source, ReplaySource):
        weeks = [
            week
            for playlist_id in source.playlist_ids()
            for week in recorded_weeks(source.replay_dir, playlist_id)
        ]
        if weeks:
            return min(weeks), max(weeks)
    return constants.FIRST_WEEK, None


def resources() -> dict:
    """The resources of the current deployment, by the keys the assets ask for."""
    if deployment_name() == AWS:
        return aws_resources()
    return local_resources()


def local_resources() -> dict:
    """The filesystem for the lake and one SQLite file for the serving tables, in the data dir."""
    from spotify_assets.io_managers.object_store import LocalObjectStore
    from spotify_assets.io_managers.serving import SQLiteServingIOManager

    root = data_dir()
    return {
        "playlist_source": playlist_source(),
        "object_store": LocalObjectStore(data_dir=str(root)),
        "serving_store": SQLiteServingIOManager(
            database_path=str(root / constants.SQLITE_FILE_NAME)
        ),
    }


def branch_name() -> str | None:
    """In a Dagster+ branch deployment, its name for storage: ``pr-<id>`` (else the deployment's
    name, made safe for S3 keys and table names); None anywhere else."""
    if os.environ.get(ENV_IS_BRANCH_DEPLOYMENT, "").strip().lower() not in ("1", "true"):
        return None
    pull_request = os.environ.get(ENV_PULL_REQUEST_ID, "").strip()
    name = f"pr-{pull_request}" if pull_request else os.environ.get(ENV_DEPLOYMENT_NAME, "")
    name = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not name:
        # Without a name of its own the branch would share production's data: refuse to load.
        raise ValueError(
            f"a branch deployment ({ENV_IS_BRANCH_DEPLOYMENT}=1) needs {ENV_PULL_REQUEST_ID} or "
            f"{ENV_DEPLOYMENT_NAME} to get its own S3 prefix and DynamoDB tables"
        )
    return name


@dataclass(frozen=True)
class AwsStorage:
    """Where the aws deployment keeps its data; None where a required variable is unset.

    A branch deployment gets ``branches/<branch>/`` before the S3 prefix and ``branch-<branch>-``
    before the table prefix: outside production's prefixes, so an IAM policy on those never
    reaches a branch's data, and a branch never touches production's.
    """

    bucket: str | None
    s3_prefix: str
    table_prefix: str | None

    @property
    def missing_variables(self) -> list[str]:
        return [
            variable
            for variable, value in [
                (constants.ENV_S3_BUCKET, self.bucket),
                (constants.ENV_DYNAMODB_TABLE_PREFIX, self.table_prefix),
            ]
            if value is None
        ]


def aws_storage() -> AwsStorage:
    """The bucket, S3 prefix and table prefix from ``SPOTIFY_ASSETS_S3_BUCKET``,
    ``SPOTIFY_ASSETS_S3_PREFIX`` (optional) and ``SPOTIFY_ASSETS_DYNAMODB_TABLE_PREFIX``."""
    bucket = os.environ.get(constants.ENV_S3_BUCKET, "").strip() or None
    s3_prefix = os.environ.get(constants.ENV_S3_PREFIX, "").strip().strip("/")
    table_prefix = os.environ.get(constants.ENV_DYNAMODB_TABLE_PREFIX, "").strip() or None
    branch = branch_name()
    if branch:
        s3_prefix = "/".join(filter(None, ["branches", branch, s3_prefix]))
        table_prefix = table_prefix and f"branch-{branch}-{table_prefix}"
    return AwsStorage(bucket, s3_prefix, table_prefix)


def aws_region() -> str | None:
    """``AWS_REGION`` (set by ECS and Lambda, read by other AWS SDKs but not by boto3); None lets
    boto3 take ``AWS_DEFAULT_REGION`` or the profile's region."""
    return os.environ.get("AWS_REGION", "").strip() or None


def s3_resource() -> "S3Resource":
    """An S3 client's settings: the endpoint (``AWS_ENDPOINT_URL``) and credentials are boto3's."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(region_name=aws_region())


def dynamodb_resource() -> "DynamoDBResource":
    """A DynamoDB client's settings: the endpoint and credentials are boto3's."""
    from spotify_assets.io_managers.dynamodb import DynamoDBResource

    return DynamoDBResource(region_name=aws_region())


def aws_resources() -> dict:
    """S3 for the lake, DynamoDB for the serving tables; region, credentials and endpoint
    (``AWS_ENDPOINT_URL``) from the standard AWS settings."""
    from spotify_assets.io_managers.dynamodb import DynamoDBServingIOManager
    from spotify_assets.io_managers.s3 import S3ObjectStore

    storage = aws_storage()
    # An unset required variable becomes an EnvVar, resolved when a run starts: definitions
    # still load (`dagster definitions validate`), and the run fails naming every unset one.
    return {
        "playlist_source": playlist_source(),
        "object_store": S3ObjectStore(
            s3=s3_resource(),
            bucket=storage.bucket or dg.EnvVar(constants.ENV_S3_BUCKET),
            prefix=storage.s3_prefix,
        ),
        "serving_store": DynamoDBServingIOManager(
            dynamodb=dynamodb_resource(),
            table_prefix=storage.table_prefix or dg.EnvVar(constants.ENV_DYNAMODB_TABLE_PREFIX),
        ),
    }
