"""Shared fixtures: a temporary data dir, the local resources pointed at it, a Dagster instance."""

import os
import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pytest

from spotify_assets import constants
from spotify_assets.io_managers.object_store import LocalObjectStore
from spotify_assets.io_managers.serving import SQLiteServingIOManager, SQLiteServingStore
from spotify_assets.playlist_partitions import add_playlists
from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS

pytest_plugins = ["spotify_assets_tests.aws_fixtures"]


def pytest_configure(config):
    # Loading the definitions adds the configured playlists to the Dagster instance at hand
    # (spotify_assets/playlist_partitions.py): in tests, one of their own, never the developer's.
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="spotify-assets-tests-dagster-home-")


@pytest.fixture(autouse=True)
def own_dagster_home(tmp_path_factory, monkeypatch) -> Path:
    """Each test its own empty DAGSTER_HOME: what one test adds to an instance, another never
    sees."""
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def partition(playlist_id: str, week: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({constants.PLAYLIST: playlist_id, constants.WEEK: week})


def materialize(
    assets, partition_key=None, instance: dg.DagsterInstance | None = None, **kwargs
) -> dg.ExecuteInProcessResult:
    """``dg.materialize``, with the partition's playlist among the instance's playlist partitions
    (an ephemeral instance unless one is given), as loading the definitions makes it for the
    configured playlists."""
    instance = instance or dg.DagsterInstance.ephemeral()
    if partition_key is not None:
        add_playlists(instance, [str(partition_key).split("|")[0]])
    return dg.materialize(assets, partition_key=partition_key, instance=instance, **kwargs)


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
    """A Dagster instance of the test's own, with partitions for the sample's playlists (what
    loading the definitions adds to a real instance: spotify_assets/playlist_partitions.py)."""
    with dg.instance_for_test() as test_instance:
        add_playlists(test_instance, SAMPLE_PLAYLIST_IDS)
        yield test_instance
