"""The stack of deploy/aws/spotify-assets.yaml created in moto's CloudFormation server, and the aws
deployment running on what it created: the storage as the design asks for it, Glue's columns
equal to the Parquet files the IO manager writes, and every AWS call of a run granted by the run
role, which grants nothing the code never calls. A branch deployment stays inside its own role."""

import io
import json

import boto3
import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spotify_assets import alerts, constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.aws import iam
from spotify_assets.aws.tables import ALL_TABLES
from spotify_assets.cli import main
from spotify_assets.sources import live
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.sql import athena
from spotify_assets.transforms import schema
from spotify_assets_tests.aws_fixtures import REGION, ApiCalls
from spotify_assets_tests.conftest import materialize, partition
from spotify_assets_tests.deploy_fixtures import (
    IGNORE_SKIPPED_TYPES,
    PROJECT_ROOT,
    Request,
    Stack,
    allowed,
    create_stack,
    granted_actions,
    requests_of_call,
)

pytestmark = pytest.mark.filterwarnings(IGNORE_SKIPPED_TYPES)
PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
SHRINKING_WEEKS = SAMPLE_WEEKS[2:4]  # 125 entries, then 122
PARAMETERS = {
    "BucketName": "spotify-assets-stack-test",
    "LakePrefix": "lake",
    "TablePrefix": "prod_",
    "Playlists": ",".join(SAMPLE_PLAYLIST_IDS),
    "GitHubRepository": "example/spotify_assets",
}
LAYERS = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)
ANALYTICS = dg.AssetSelection.groups("analytics")
# The code calls these, but a run that goes well does not: each with where it is called.
CALLED_ONLY_ON_FAILURE = {
    "athena:StopQueryExecution": ("spotify_assets/sql/athena.py", "stop_query_execution"),
}
# Hive's names for the Arrow types of the lake's files, as Athena reads them.
HIVE_TYPES = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
    pa.timestamp("ms", tz="UTC"): "timestamp",
}


@pytest.fixture
def stack(aws, monkeypatch) -> Stack:
    """The stack in moto, and the environment container_context.yaml gives runs from its
    outputs."""
    created = create_stack(PARAMETERS, REGION)
    outputs = created.outputs
    for variable, output in [
        (constants.ENV_S3_BUCKET, "BucketName"),
        (constants.ENV_S3_PREFIX, "LakePrefix"),
        (constants.ENV_DYNAMODB_TABLE_PREFIX, "TablePrefix"),
        (athena.ENV_ATHENA_DATABASE, "GlueDatabaseName"),
        (athena.ENV_ATHENA_WORKGROUP, "AthenaWorkGroupName"),
    ]:
        monkeypatch.setenv(variable, outputs[output])
    monkeypatch.delenv(athena.ENV_ATHENA_OUTPUT, raising=False)
    return created


def _materialize(selection, partition_key, instance) -> None:
    result = materialize(
        all_assets,
        selection=selection,
        partition_key=partition_key,
        resources=deployment.resources(),
        instance=instance,
    )
    assert result.success


def _requests(api_calls: ApiCalls) -> list[tuple[str, str, Request]]:
    """Every recorded call with the authorizations it needs."""
    calls = list(api_calls.calls)
    reader = boto3.client("athena", region_name=REGION)

    def workgroup_of_query(execution_id: str) -> str:
        execution = reader.get_query_execution(QueryExecutionId=execution_id)
        return execution["QueryExecution"]["WorkGroup"]

    return [
        (service, operation, request)
        for service, operation, params in calls
        for request in requests_of_call(service, operation, params, REGION, workgroup_of_query)
    ]


def test_the_stack_creates_the_storage_the_design_asks_for(stack):
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.outputs["BucketName"]
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocks = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert len(blocks) == 4 and all(blocks.values()), blocks
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    [raw_rule] = [r for r in rules if r["Filter"].get("Prefix") == "lake/raw/"]
    [transition] = raw_rule["Transitions"]
    assert transition["StorageClass"] == "STANDARD_IA" and transition["Days"] >= 30
    [tls_only] = stack.properties("LakeBucketPolicy")["PolicyDocument"]["Statement"]
    assert (tls_only["Effect"], tls_only["Principal"], tls_only["Action"]) == ("Deny", "*", "s3:*")
    assert tls_only["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert tls_only["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table in ALL_TABLES.values():
        wanted = table.create_table_request(stack.outputs["TablePrefix"])
        found = dynamodb.describe_table(TableName=wanted["TableName"])["Table"]
        assert found["KeySchema"] == wanted["KeySchema"]
        assert found["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {i["IndexName"] for i in found.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"] for i in wanted.get("GlobalSecondaryIndexes", [])
        }
        backups = dynamodb.describe_continuous_backups(TableName=wanted["TableName"])
        recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    # What moto's DynamoDB does not report: from the template.
    for logical_id in stack.resources("AWS::DynamoDB::Table"):
        properties = stack.properties(logical_id)
        assert properties["SSESpecification"] == {"SSEEnabled": True}
        assert properties["DeletionProtectionEnabled"] is True

    workgroup = boto3.client("athena", region_name=REGION).get_work_group(
        WorkGroup=stack.outputs["AthenaWorkGroupName"]
    )["WorkGroup"]["Configuration"]
    assert workgroup["EnforceWorkGroupConfiguration"] is True
    assert workgroup["ResultConfiguration"]["OutputLocation"] == (
        f"s3://{bucket}/lake/{athena.RESULTS_FOLDER}/"
    )

    secrets = boto3.client("secretsmanager", region_name=REGION)
    secret = secrets.get_secret_value(SecretId=stack.outputs["SpotifySecretArn"])
    assert set(json.loads(secret["SecretString"])) == {
        live.ENV_CLIENT_ID,
        live.ENV_CLIENT_SECRET,
        live.ENV_REFRESH_TOKEN,
    }
    # The alerts' webhook: a secret of its own, empty (alerts off) until the URL is put in.
    webhook_secret = secrets.get_secret_value(SecretId=stack.outputs["AlertWebhookSecretArn"])
    assert json.loads(webhook_secret["SecretString"]) == {alerts.ENV_ALERT_WEBHOOK_URL: ""}
    # ECS reads these two secrets for the tasks, and nothing else.
    execution_role = stack.properties("ExecutionRole")
    [read_secret] = execution_role["Policies"][0]["PolicyDocument"]["Statement"]
    assert read_secret["Action"] == "secretsmanager:GetSecretValue"
    assert read_secret["Resource"] == [
        stack.outputs["SpotifySecretArn"],
        stack.outputs["AlertWebhookSecretArn"],
    ]


def test_glue_tables_read_the_lake_as_written(stack, instance):
    for week in SAMPLE_WEEKS[:2]:
        _materialize(LAYERS, partition(PLAYLIST, week), instance)
    glue = boto3.client("glue", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    bucket, database = stack.outputs["BucketName"], stack.outputs["GlueDatabaseName"]
    for table in constants.NORMALIZED_TABLES:
        glue_table = glue.get_table(DatabaseName=database, Name=table)["Table"]
        folder = f"lake/{constants.NORMALIZED}/{table}/"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=folder)["Contents"]]
        assert len(keys) == 2, keys
        for key in keys:
            data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            written = pq.read_schema(io.BytesIO(data))
            assert [(f.name, HIVE_TYPES[f.type]) for f in written] == [
                (c["Name"], c["Type"]) for c in glue_table["StorageDescriptor"]["Columns"]
            ], table
            assert written.equals(schema.TABLE_SCHEMAS[table], check_metadata=False), table
            # The partition folders, in the order the projection's template names them.
            assert key.startswith(f"{folder}{constants.WEEK}=")
        assert [(k["Name"], k["Type"]) for k in glue_table["PartitionKeys"]] == [
            (constants.WEEK, "date"),
            (constants.PLAYLIST, "string"),
        ]
        parameters = glue_table["Parameters"]
        assert parameters["projection.enabled"] == "true"
        assert parameters["projection.playlist.values"].split(",") == list(SAMPLE_PLAYLIST_IDS)
        assert parameters["storage.location.template"] == (
            f"s3://{bucket}/{folder}week=${{week}}/playlist=${{playlist}}"
        )


def test_a_run_needs_exactly_what_the_run_role_grants(stack, instance, api_calls: ApiCalls):
    api_calls.clear()
    # Two weeks in which the playlist shrinks, so entries are deleted as well as written.
    for week in SHRINKING_WEEKS:
        _materialize(LAYERS | ANALYTICS, partition(PLAYLIST, week), instance)
    # What readers of the serving assets call (the serving IO manager's load_input).
    store = deployment.resources()["serving_store"].create_io_manager(None).store
    for table in constants.SERVING_TABLES:
        assert store.read_table(table).num_rows > 0, table
    assert store.read_table(constants.PLAYLIST_ENTRIES, PLAYLIST).num_rows > 0

    run_policy = stack.policy_statements("RunPolicy")
    branch_policy = stack.policy_statements("BranchRunPolicy")
    requests = _requests(api_calls)
    assert {service for service, _, _ in requests} == {"s3", "dynamodb", "athena"}
    for service, operation, request in requests:
        # Every call is one iam.py lists, for the action it is checked against...
        assert request.action in iam.RUN_OPERATIONS[service][operation], (operation, request)
        # ...and the run role grants it on that resource; the branch role does not.
        assert allowed(run_policy, request), request
        assert not allowed(branch_policy, request), request

    called = {request.action for _, _, request in requests}
    for action, (path, method) in CALLED_ONLY_ON_FAILURE.items():
        assert method in (PROJECT_ROOT / path).read_text(encoding="utf-8"), action
    expected = (
        called
        | set(iam.RUN_EXTRA_ACTIONS)
        | set(iam.ATHENA_ON_BEHALF_ACTIONS)
        | set(CALLED_ONLY_ON_FAILURE)
    )
    assert granted_actions(run_policy) == expected == set(iam.RUN_ACTIONS)


def test_a_branch_deployment_stays_inside_its_own_role(
    stack, instance, api_calls: ApiCalls, monkeypatch, capsys
):
    assert main(["aws", "drop-branch"]) == 2  # never outside a branch deployment
    assert "refusing to delete any table" in capsys.readouterr().err

    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "7")
    ci_policy = stack.policy_statements("BranchCiPolicy")
    branch_policy = stack.policy_statements("BranchRunPolicy")
    run_policy = stack.policy_statements("RunPolicy")

    # The pull-request workflow creates the branch's tables...
    api_calls.clear()
    assert main(["aws", "init", "--no-bucket"]) == 0
    assert "created DynamoDB table branch-pr-7-prod_songs" in capsys.readouterr().out
    init_requests = _requests(api_calls)
    assert init_requests
    for _, _, request in init_requests:
        assert allowed(ci_policy, request), request

    # ...the branch deployment's runs stay under its prefixes...
    api_calls.clear()
    _materialize(LAYERS, partition(PLAYLIST, SAMPLE_WEEKS[0]), instance)
    run_requests = _requests(api_calls)
    assert {service for service, _, _ in run_requests} == {"s3", "dynamodb"}
    for _, _, request in run_requests:
        assert allowed(branch_policy, request), request
        assert not allowed(run_policy, request), request
    objects = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=stack.outputs["BucketName"]
    )["Contents"]
    assert objects and all(o["Key"].startswith("branches/pr-7/lake/") for o in objects)

    # ...and the workflow deletes its tables when the pull request closes.
    api_calls.clear()
    assert main(["aws", "drop-branch"]) == 0
    assert "deleted DynamoDB table branch-pr-7-prod_songs" in capsys.readouterr().out
    for _, _, request in _requests(api_calls):
        assert allowed(ci_policy, request), request
    tables = boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert not [name for name in tables if name.startswith("branch-")]
    assert granted_actions(ci_policy) == {r.action for _, _, r in init_requests} | {
        "dynamodb:DeleteTable"
    }


def test_the_github_roles_trust_only_this_repository(stack):
    for role, subject in [
        ("GitHubDeployRole", "repo:example/spotify_assets:environment:production"),
        ("GitHubBranchRole", "repo:example/spotify_assets:environment:branch-deployments"),
    ]:
        [trust] = stack.properties(role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert trust["Condition"]["StringEquals"] == {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": subject,
        }
