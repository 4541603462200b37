"""The one place that picks resources per deployment (``SPOTIFY_ASSETS_ENV``).

The asset code is the same everywhere; only what is returned here changes.
"""

import os
from pathlib import Path

from spotify_assets import constants
from spotify_assets.io_managers.object_store import LocalObjectStore
from spotify_assets.io_managers.serving import SQLiteServingIOManager
from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.replay import recorded_weeks

LOCAL = "local"
AWS = "aws"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def deployment_name() -> str:
    name = os.environ.get(constants.ENV_DEPLOYMENT, "").strip().lower() or LOCAL
    if name not in (LOCAL, AWS):
        raise ValueError(f"{constants.ENV_DEPLOYMENT} must be '{LOCAL}' or '{AWS}', not {name!r}")
    return name


def data_dir() -> Path:
    """The local object store's root: ``SPOTIFY_ASSETS_DATA_DIR``, default ``data/``."""
    return Path(os.environ.get(constants.ENV_DATA_DIR) or PROJECT_ROOT / "data")


def playlist_source() -> ReplaySource:
    return ReplaySource(replay_dir=os.environ.get(constants.ENV_REPLAY_DIR) or str(SAMPLE_DATA_DIR))


def configured_playlist_ids() -> list[str]:
    """The playlists that get partitions: ``SPOTIFY_PLAYLISTS``, else those of the replay folder."""
    listed = [p.strip() for p in os.environ.get(constants.ENV_PLAYLISTS, "").split(",")]
    return [p for p in listed if p] or playlist_source().playlist_ids()


def first_week() -> str:
    """The first week that gets partitions: the earliest recording when replaying (so every
    partition of the sample data can be materialized), else ``FIRST_WEEK``."""
    source = playlist_source()
    if isinstance(source, ReplaySource):
        weeks = [
            week
            for playlist_id in source.playlist_ids()
            for week in recorded_weeks(source.replay_dir, playlist_id)
        ]
        if weeks:
            return min(weeks)
    return constants.FIRST_WEEK


def resources() -> dict:
    """The resources of the current deployment, by the keys the assets ask for."""
    if deployment_name() == AWS:
        raise NotImplementedError(
            f"{constants.ENV_DEPLOYMENT}=aws is not built yet: unset it to run locally"
        )
    root = data_dir()
    return {
        "playlist_source": playlist_source(),
        "object_store": LocalObjectStore(data_dir=str(root)),
        "serving_store": SQLiteServingIOManager(
            database_path=str(root / constants.SQLITE_FILE_NAME)
        ),
    }
