"""Picking the aws resources: names from the environment, branch deployments kept apart from
production, missing settings named when a run starts, and ``spotify-assets aws init``."""

import json

import dagster as dg
import pytest

from spotify_assets import constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.cli import main
from spotify_assets.io_managers.dynamodb import DynamoDBServingIOManager
from spotify_assets.io_managers.s3 import S3ObjectStore
from spotify_assets_tests.conftest import materialize, partition

PLAYLIST, WEEK = "4q0xVAtAY3eZ8QdD5I84BJ", "2026-09-07"
# The contract's layers, all partitioned by week x playlist.
LAYERS = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)


def test_aws_resources_come_from_the_environment(aws):
    assert deployment.deployment_name() == deployment.AWS
    resources = deployment.resources()
    object_store, serving_store = resources["object_store"], resources["serving_store"]
    assert isinstance(object_store, S3ObjectStore)
    assert (object_store.bucket, object_store.prefix) == (aws.bucket, aws.s3_prefix)
    assert isinstance(serving_store, DynamoDBServingIOManager)
    assert serving_store.table_prefix == aws.table_prefix
    # AWS_ENDPOINT_URL and AWS_REGION reach both clients without being configured anywhere.
    for client in (
        object_store.s3.get_client(),
        serving_store.dynamodb.get_client(),
    ):
        assert client.meta.endpoint_url == aws.endpoint_url
        assert client.meta.region_name == "eu-west-1"


def test_a_branch_deployment_gets_its_own_prefix_and_tables(aws, monkeypatch):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT)
    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "42")
    monkeypatch.setenv("DAGSTER_CLOUD_DEPLOYMENT_NAME", "feature-x")
    assert deployment.deployment_name() == deployment.AWS  # a branch deployment is aws
    resources = deployment.resources()
    assert resources["object_store"].prefix == "branches/pr-42/lake"
    assert resources["serving_store"].table_prefix == "branch-pr-42-test_"

    monkeypatch.delenv("DAGSTER_CLOUD_PULL_REQUEST_ID")
    assert deployment.aws_storage().table_prefix == "branch-feature-x-test_"
    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "0")
    assert deployment.aws_storage() == deployment.AwsStorage(aws.bucket, "lake", "test_")

    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
    monkeypatch.delenv("DAGSTER_CLOUD_DEPLOYMENT_NAME")
    with pytest.raises(ValueError, match="needs DAGSTER_CLOUD_PULL_REQUEST_ID or"):
        deployment.resources()


def test_missing_settings_let_definitions_load_and_fail_the_run_naming_them(aws, monkeypatch):
    monkeypatch.delenv(constants.ENV_S3_BUCKET)
    monkeypatch.delenv(constants.ENV_DYNAMODB_TABLE_PREFIX)
    defs = dg.Definitions(assets=all_assets, resources=deployment.resources())
    dg.Definitions.validate_loadable(defs)
    with pytest.raises(dg.DagsterInvalidConfigError) as failure:
        materialize(
            all_assets,
            selection=LAYERS,
            resources=deployment.resources(),
            partition_key=partition(PLAYLIST, WEEK),
        )
    assert constants.ENV_S3_BUCKET in str(failure.value)
    assert constants.ENV_DYNAMODB_TABLE_PREFIX in str(failure.value)


def test_a_missing_region_fails_the_run_naming_it(aws_storage, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    result = materialize(
        all_assets,
        selection=LAYERS,
        resources=deployment.resources(),
        partition_key=partition(PLAYLIST, WEEK),
        raise_on_error=False,
    )
    assert not result.success
    errors = [
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if getattr(event.event_specific_data, "error", None)
    ]
    assert any("DynamoDB needs an AWS region: set AWS_REGION" in error for error in errors)


def test_the_aws_init_command_creates_the_storage_once(aws, capsys):
    assert main(["aws", "init"]) == 0
    first = capsys.readouterr().out
    assert "created DynamoDB table test_songs" in first
    assert f"created S3 bucket {aws.bucket}" in first
    assert main(["aws", "init"]) == 0
    assert "exists  DynamoDB table test_songs" in capsys.readouterr().out


def test_the_aws_init_command_prints_the_tables_and_names_missing_settings(
    aws, capsys, monkeypatch
):
    assert main(["aws", "init", "--print"]) == 0
    requests = json.loads(capsys.readouterr().out)
    assert [r["TableName"] for r in requests] == [
        "test_artists",
        "test_albums",
        "test_songs",
        "test_playlists",
        "test_playlist_entries",
        "test_playlist_versions",
        "test_playlist_keys",
        "test_leases",
    ]
    monkeypatch.delenv(constants.ENV_S3_BUCKET)
    monkeypatch.delenv(constants.ENV_DYNAMODB_TABLE_PREFIX)
    assert main(["aws", "init"]) == 2
    assert capsys.readouterr().err == (
        "spotify-assets aws init: set SPOTIFY_ASSETS_S3_BUCKET and "
        "SPOTIFY_ASSETS_DYNAMODB_TABLE_PREFIX first\n"
    )
