"""Shared fixtures: a temporary data dir, the local resources pointed at it, a Dagster instance."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from spotify_assets import constants
from spotify_assets.io_managers.object_store import LocalObjectStore
from spotify_assets.io_managers.serving import SQLiteServingIOManager, SQLiteServingStore
from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource

pytest_plugins = ["spotify_assets_tests.aws_fixtures"]


def partition(playlist_id: str, week: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({constants.PLAYLIST: playlist_id, constants.WEEK: week})


def local_resources(data_dir: Path, replay_dir: Path = SAMPLE_DATA_DIR) -> dict:
    return {
        "playlist_source": ReplaySource(replay_dir=str(replay_dir)),
        "object_store": LocalObjectStore(data_dir=str(data_dir)),
        "serving_store": SQLiteServingIOManager(
            database_path=str(data_dir / constants.SQLITE_FILE_NAME)
        ),
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def serving_store(data_dir: Path) -> SQLiteServingStore:
    return SQLiteServingStore(data_dir / constants.SQLITE_FILE_NAME)


@pytest.fixture
def replay_dir(tmp_path: Path) -> Path:
    """A writable copy of the sample recordings, for tests that break one."""
    copy = tmp_path / "replay"
    shutil.copytree(SAMPLE_DATA_DIR, copy)
    return copy


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance
