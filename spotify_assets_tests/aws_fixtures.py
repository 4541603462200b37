"""AWS on 127.0.0.1: moto's HTTP server for the whole session, emptied before every test that
uses it, reached through ``AWS_ENDPOINT_URL`` with fake credentials, as a laptop would."""

import logging
import os
import urllib.request
from collections import Counter
from dataclasses import dataclass

import botocore.session
import pytest
from moto.server import ThreadedMotoServer

from spotify_assets import constants, deployment
from spotify_assets.aws.storage import create_bucket, create_tables
from spotify_assets.io_managers.dynamodb import DynamoDBServingStore

BUCKET = "spotify-assets-test"
S3_PREFIX = "lake"
TABLE_PREFIX = "test_"
REGION = "eu-west-1"


@dataclass(frozen=True)
class AwsEndpoint:
    endpoint_url: str
    bucket: str = BUCKET
    s3_prefix: str = S3_PREFIX
    table_prefix: str = TABLE_PREFIX


@pytest.fixture(scope="session")
def moto_server():
    """moto's server on a free port of 127.0.0.1, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch) -> AwsEndpoint:
    """An empty moto server, and the environment of the aws deployment pointed at it."""
    reset = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()
    for variable in list(os.environ):
        if variable.startswith(("AWS_", "DAGSTER_CLOUD_")):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    # Nothing from this machine's AWS set-up, and never the instance metadata service.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv(constants.ENV_DEPLOYMENT, "aws")
    monkeypatch.setenv(constants.ENV_S3_BUCKET, BUCKET)
    monkeypatch.setenv(constants.ENV_S3_PREFIX, S3_PREFIX)
    monkeypatch.setenv(constants.ENV_DYNAMODB_TABLE_PREFIX, TABLE_PREFIX)
    return AwsEndpoint(moto_server)


@pytest.fixture
def aws_storage(aws) -> AwsEndpoint:
    """The bucket and the tables, created as `spotify-assets aws init` creates them."""
    create_tables(deployment.dynamodb_resource().get_client(), aws.table_prefix)
    create_bucket(deployment.s3_resource().get_client(), aws.bucket)
    return aws


@pytest.fixture
def dynamodb_store(aws_storage) -> DynamoDBServingStore:
    return DynamoDBServingStore(
        deployment.dynamodb_resource().get_client(), aws_storage.table_prefix, backoff_base=0.001
    )


class ApiCalls:
    """Every AWS API call made by clients created while it records, counted by operation."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []

    def record(self, params, model, **kwargs):
        self.calls.append((model.service_model.endpoint_prefix, model.name, dict(params)))

    def count(self, operation: str) -> int:
        return sum(1 for _, name, _ in self.calls if name == operation)

    def operations(self) -> Counter:
        return Counter((service, name) for service, name, _ in self.calls)

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def api_calls(monkeypatch) -> ApiCalls:
    """Records every API call (not every HTTP attempt: retries are not calls) through botocore's
    ``before-parameter-build`` event on each client created from now on."""
    calls = ApiCalls()
    create_client = botocore.session.Session.create_client

    def recording_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        client.meta.events.register("before-parameter-build.*.*", calls.record)
        return client

    monkeypatch.setattr(botocore.session.Session, "create_client", recording_client)
    return calls
