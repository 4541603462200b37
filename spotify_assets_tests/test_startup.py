"""The local deployment starts with its own modules only: loading its definitions, or running a
partition of the lake, imports neither the AWS SDKs, DuckDB, Starlette nor the web package."""

import json
import os
import subprocess
import sys

from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS

NOT_LOCAL = (
    "dagster_aws",
    "boto3",
    "botocore",
    "duckdb",
    "starlette",
    "spotify_assets.web",
    "spotipy",
)

LOADED_NOT_LOCAL = f"""
import json, sys
print(json.dumps(sorted(
    name for name in sys.modules
    if any(name == p or name.startswith(p + ".") for p in {NOT_LOCAL!r})
)))
"""


def _local_env(tmp_path) -> dict:
    """This environment as a fresh shell would have it, on the local deployment."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SPOTIFY_", "DAGSTER_", "AWS_"))
    }
    return {**env, "SPOTIFY_ASSETS_ENV": "local", "SPOTIFY_ASSETS_DATA_DIR": str(tmp_path)}


def _loaded_not_local(code: str, tmp_path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code + LOADED_NOT_LOCAL],
        env=_local_env(tmp_path),
        # Not the repository: its dagster.yaml is the developer's instance.
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_the_local_definitions_load_without_aws_duckdb_or_the_web_package(tmp_path):
    assert _loaded_not_local("import spotify_assets.definitions", tmp_path) == []


def test_a_partition_of_the_lake_runs_without_them_too(tmp_path):
    run_a_partition = f"""
import dagster as dg
from spotify_assets.definitions import defs
from spotify_assets.playlist_partitions import add_playlists
lake = dg.AssetSelection.groups("raw", "normalized", "serving")
instance = dg.DagsterInstance.ephemeral()
add_playlists(instance, ["{SAMPLE_PLAYLIST_IDS[0]}"])
result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
    partition_key="{SAMPLE_PLAYLIST_IDS[0]}|{SAMPLE_WEEKS[-1]}",
    asset_selection=sorted(lake.resolve(defs.resolve_asset_graph())),
    instance=instance,
)
assert result.success
"""
    assert _loaded_not_local(run_a_partition, tmp_path) == []
    assert (tmp_path / "serving.sqlite").is_file()
