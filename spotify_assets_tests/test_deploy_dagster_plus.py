"""Dagster+ hybrid on ECS: the files `dg plus deploy` reads ([tool.dg], build.yaml,
container_context.yaml), written by `spotify-assets aws dagster-plus` from the stack's outputs,
and valid for dagster-cloud's deploy check and dagster-aws's ECS container context; the
deployment settings valid against Dagster's own schemas."""

import os
import shlex
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from dagster._config import Shape, validate_config
from dagster._core.instance.config import (
    dagster_instance_config_schema,
    validate_concurrency_config,
)
from dagster_aws.ecs.container_context import EcsContainerContext
from dagster_cloud_cli import gql
from dagster_cloud_cli.commands.ci import checks
from dagster_dg_cli.cli.utils import create_temp_dagster_cloud_yaml_file
from dagster_dg_core.context import DgContext
from dagster_shared.yaml_utils import safe_load_yaml

from spotify_assets import alerts, code_references, constants
from spotify_assets.aws import dagster_plus
from spotify_assets.cli import main
from spotify_assets.definitions import defs
from spotify_assets.schedules import weekly_snapshot_job
from spotify_assets.sources import live
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS
from spotify_assets_tests.aws_fixtures import REGION
from spotify_assets_tests.deploy_fixtures import IGNORE_SKIPPED_TYPES, PROJECT_ROOT, create_stack

pytestmark = [
    pytest.mark.filterwarnings(IGNORE_SKIPPED_TYPES),
    # dagster-cloud-cli's models, on pydantic 2.
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]
# The stack the committed files were written from (deploy/README.md's example values).
EXAMPLE_PARAMETERS = {
    "BucketName": "spotify-assets-123456789012",
    "Playlists": ",".join(SAMPLE_PLAYLIST_IDS[:2]),
    "GitHubRepository": "example/spotify_assets",
}
# Secrets Manager ends a secret's ARN with six random characters.
EXAMPLE_SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spotify-assets/spotify-AbCdEf"
)
EXAMPLE_ALERT_WEBHOOK_SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:spotify-assets/alerts-GhIjKl"
)
DAGSTER_PLUS = PROJECT_ROOT / "deploy" / "dagster-plus"
SETTINGS = DAGSTER_PLUS / "deployment_settings.yaml"
ALERT_POLICIES = DAGSTER_PLUS / "alert_policies.yaml"
LINK_CODE_TO_COMMIT = DAGSTER_PLUS / "link_code_to_commit.py"
WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "deploy.yml"
FILES = (
    dagster_plus.BUILD_YAML,
    dagster_plus.CONTAINER_CONTEXT,
    dagster_plus.BRANCH_CONTAINER_CONTEXT,
)


class _CloudFormation:
    """describe_stacks as AWS answers it (moto's leaves out the outputs of the resource types
    its CloudFormation skips)."""

    def __init__(self, stack):
        self.stack = stack

    def describe_stacks(self, StackName):
        assert StackName == self.stack.name
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.stack.outputs.items()]
        parameters = [
            {"ParameterKey": k, "ParameterValue": v} for k, v in self.stack.parameters.items()
        ]
        return {"Stacks": [{"Outputs": outputs, "Parameters": parameters}]}


@pytest.fixture
def example_stack(aws):
    return create_stack(EXAMPLE_PARAMETERS, REGION)


def _write_dagster_plus(stack, project_dir: Path, monkeypatch) -> dict[Path, str]:
    """The files `spotify-assets aws dagster-plus` writes for ``stack``, with the example
    stack's secret ARNs in place of the random ones."""
    monkeypatch.setattr(
        "spotify_assets.aws.cli.boto3.client", lambda service, **_: _CloudFormation(stack)
    )
    assert main(["aws", "dagster-plus", "--project-dir", str(project_dir)]) == 0
    examples = {
        "SpotifySecretArn": EXAMPLE_SECRET_ARN,
        dagster_plus.ALERT_WEBHOOK_SECRET_OUTPUT: EXAMPLE_ALERT_WEBHOOK_SECRET_ARN,
    }
    written = {}
    for relative in FILES:
        text = (project_dir / relative).read_text()
        for output, example in examples.items():
            if output in stack.outputs:
                text = text.replace(stack.outputs[output], example)
        written[relative] = text
    return written


@pytest.fixture
def written(example_stack, tmp_path, monkeypatch) -> dict[Path, str]:
    """The files `spotify-assets aws dagster-plus` writes for the example stack."""
    return _write_dagster_plus(example_stack, tmp_path, monkeypatch)


def test_the_committed_files_are_what_the_command_writes_for_the_example_stack(written):
    for relative, text in written.items():
        assert (PROJECT_ROOT / relative).read_text() == text, relative


def _ecs_context(path: Path) -> EcsContainerContext:
    return EcsContainerContext.create_from_config(yaml.safe_load(path.read_text()))


def test_production_runs_get_the_settings_the_secret_and_the_run_role():
    context = _ecs_context(PROJECT_ROOT / dagster_plus.CONTAINER_CONTEXT)
    variables = dict(variable.split("=", 1) for variable in context.env_vars)
    assert variables[constants.ENV_DEPLOYMENT] == "aws"
    assert set(variables) == {
        constants.ENV_DEPLOYMENT,
        *dagster_plus.SETTINGS_FROM_OUTPUTS,
        live.ENV_PLAYLISTS,
    }
    webhook = alerts.ENV_ALERT_WEBHOOK_URL
    assert [secret["name"] for secret in context.secrets] == [
        *dagster_plus.SECRET_VARIABLES,
        webhook,
    ]
    for secret in context.secrets:
        arn = EXAMPLE_ALERT_WEBHOOK_SECRET_ARN if secret["name"] == webhook else EXAMPLE_SECRET_ARN
        assert secret["valueFrom"] == f"{arn}:{secret['name']}::"
    assert context.task_role_arn.endswith(":role/spotify-assets-run")
    assert context.execution_role_arn.endswith(":role/spotify-assets-execution")


def test_a_stack_without_the_webhook_secret_gets_no_webhook(example_stack, tmp_path, monkeypatch):
    # A data stack deployed before the secret existed: the command still writes every file.
    del example_stack.outputs[dagster_plus.ALERT_WEBHOOK_SECRET_OUTPUT]
    written = _write_dagster_plus(example_stack, tmp_path, monkeypatch)
    context = yaml.safe_load(written[dagster_plus.CONTAINER_CONTEXT])["ecs"]
    assert [secret["name"] for secret in context["secrets"]] == list(dagster_plus.SECRET_VARIABLES)
    assert alerts.ENV_ALERT_WEBHOOK_URL not in written[dagster_plus.CONTAINER_CONTEXT]


def test_branch_deployments_get_the_branch_role_and_no_spotify_credentials():
    production = _ecs_context(PROJECT_ROOT / dagster_plus.CONTAINER_CONTEXT)
    branch = _ecs_context(PROJECT_ROOT / dagster_plus.BRANCH_CONTAINER_CONTEXT)
    assert branch.task_role_arn.endswith(":role/spotify-assets-branch-run")
    assert branch.execution_role_arn == production.execution_role_arn
    # No Spotify credentials and no alert webhook: a branch's failures are not production's.
    assert not branch.secrets
    # Without credentials and playlists a branch replays the sample dataset.
    assert not [v for v in branch.env_vars if v.startswith(("SPOTIFY_PLAYLISTS=", "SPOTIFY_C"))]
    assert set(branch.env_vars) == set(production.env_vars) - {
        v for v in production.env_vars if v.startswith(f"{live.ENV_PLAYLISTS}=")
    }


def test_dg_plus_deploy_reads_the_project_as_a_valid_code_location(tmp_path):
    context = DgContext.for_project_environment(PROJECT_ROOT, {})
    [location] = yaml.safe_load(
        Path(create_temp_dagster_cloud_yaml_file(context, str(tmp_path))).read_text()
    )["locations"]
    assert location["location_name"] == "spotify_assets"
    assert location["code_source"] == {"module_name": "spotify_assets.definitions"}
    assert location["build"]["registry"].endswith(".amazonaws.com/spotify-assets")
    assert location["container_context"]["ecs"]["task_role_arn"].endswith("-run")
    result = checks.check_dagster_cloud_yaml(tmp_path / "dagster_cloud.yaml")
    assert result.errors == []
    # The Dockerfile dg builds is the project root's (build.yaml sets no other directory).
    assert (PROJECT_ROOT / "Dockerfile").is_file()


def test_the_deployment_settings_use_dagsters_own_schema():
    settings = yaml.safe_load(SETTINGS.read_text())
    schema = dagster_instance_config_schema()
    result = validate_config(Shape({key: schema[key] for key in settings}), settings)
    assert result.success, [error.message for error in result.errors]
    validate_concurrency_config(settings)  # raises on settings that cannot be combined
    # The run queue's limit in `concurrency`, not the legacy `run_queue` that refuses pools.
    assert "run_queue" not in settings
    assert settings["concurrency"]["runs"]["max_concurrent_runs"] >= 1


# --- alert policies -------------------------------------------------------------------------
# The Dagster+ YAML reference's event types, by category: one policy's must share one.
JOB_EVENTS = {"JOB_FAILURE", "JOB_SUCCESS", "JOB_LONG_RUNNING"}
ASSET_EVENTS = {
    "ASSET_MATERIALIZATION_SUCCESS",
    "ASSET_MATERIALIZATION_FAILURE",
    "ASSET_CHECK_PASSED",
    "ASSET_CHECK_EXECUTION_FAILURE",
    "ASSET_CHECK_SEVERITY_WARN",
    "ASSET_CHECK_SEVERITY_ERROR",
}
POLICY_KEYS = {"name", "enabled", "event_types", "notification_service"}
OPTIONAL_POLICY_KEYS = {"description", "alert_targets", "policy_options"}


def _workflow_step(job: str, name: str) -> dict:
    [step] = [
        step
        for step in yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]
        if step.get("name") == name
    ]
    return step


def _step_names(job: str) -> list[str]:
    return [step.get("name") for step in yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]]


def test_the_alert_policies_have_the_shape_dagster_plus_documents():
    # Read as dagster-cloud's `alert-policies sync` reads it.
    document = safe_load_yaml(ALERT_POLICIES.read_text())
    assert set(document) == {"alert_policies"}
    policies = document["alert_policies"]
    assert len({policy["name"] for policy in policies}) == len(policies)
    for policy in policies:
        assert POLICY_KEYS <= set(policy) <= POLICY_KEYS | OPTIONAL_POLICY_KEYS, policy["name"]
        assert policy["enabled"] is True
        events = set(policy["event_types"])
        assert events <= JOB_EVENTS or events <= ASSET_EVENTS, policy["name"]
        # One notification service, with placeholders the README tells to replace.
        [(service, settings)] = policy["notification_service"].items()
        assert service == "email"
        assert settings["email_addresses"] and all(
            "@" in address for address in settings["email_addresses"]
        )


def test_the_alert_policies_name_the_snapshot_job_and_the_blocking_checks():
    policies = {
        policy["name"]: policy
        for policy in safe_load_yaml(ALERT_POLICIES.read_text())["alert_policies"]
    }
    [job_target] = policies["weekly-snapshot-run-failed"]["alert_targets"]
    assert policies["weekly-snapshot-run-failed"]["event_types"] == ["JOB_FAILURE"]
    assert job_target["run_result_target"]["jobs"] == [
        {
            "location_name": "spotify_assets",
            "repo_name": "__repository__",
            "job_name": weekly_snapshot_job.name,
        }
    ]
    assert weekly_snapshot_job.name in {job.name for job in defs.jobs}

    checks = policies["blocking-check-failed"]
    assert "ASSET_CHECK_SEVERITY_ERROR" in checks["event_types"]
    [group_target] = checks["alert_targets"]
    group = group_target["asset_group_target"]
    assert (group["location_name"], group["repo_name"]) == ("spotify_assets", "__repository__")
    # The group holds the asset of every blocking check.
    asset_graph = defs.resolve_asset_graph()
    blocking = [
        spec
        for key in asset_graph.asset_check_keys
        if (spec := asset_graph.get_check_spec(key)).blocking
    ]
    assert blocking
    assert {asset_graph.get(spec.asset_key).group_name for spec in blocking} == {
        group["asset_group"]
    }


class _AlertPolicyApi:
    """Dagster+'s GraphQL API as `alert-policies sync` calls it: records what it is sent."""

    def __init__(self):
        self.calls = []

    @contextmanager
    def client(self, url, token, retries=3, deployment_name=None, headers=None):
        api = self

        class Client:
            def execute(self, query, variable_values=None):
                api.calls.append((url, deployment_name, query, variable_values))
                names = [p["name"] for p in variable_values["document"]["alert_policies"]]
                return {
                    "data": {
                        "reconcileAlertPoliciesFromDocument": {
                            "__typename": "ReconcileAlertPoliciesSuccess",
                            "alertPolicies": [{"name": name} for name in names],
                        }
                    }
                }

        yield Client()


# dagster-cloud's CLI, on the typer it pins.
@pytest.mark.filterwarnings("ignore:The 'is_flag' and 'flag_value':DeprecationWarning")
def test_the_workflow_syncs_the_alert_policies_to_prod_after_deploying(monkeypatch):
    from dagster_cloud_cli.entrypoint import app as dagster_cloud
    from typer.testing import CliRunner

    names = _step_names("production")
    assert names.index("Sync prod's alert policies") > names.index("Build, push and deploy to prod")
    assert "Sync prod's alert policies" not in _step_names("branch-deployment")
    step = _workflow_step("production", "Sync prod's alert policies")
    assert "DAGSTER_CLOUD_API_TOKEN" in step["env"]
    command = shlex.split(step["run"])
    assert command[0] == "dagster-cloud"

    # The workflow's own command line, against dagster-cloud's CLI with the API faked.
    api = _AlertPolicyApi()
    monkeypatch.setattr(gql, "graphql_client_from_url", api.client)
    workflow_env = yaml.safe_load(WORKFLOW.read_text())["env"]
    monkeypatch.chdir(PROJECT_ROOT)
    result = CliRunner().invoke(
        dagster_cloud,
        command[1:],
        env={
            "DAGSTER_CLOUD_API_TOKEN": "user:test-token",
            "DAGSTER_CLOUD_ORGANIZATION": "example",
            "DAGSTER_CLOUD_DEPLOYMENT": workflow_env["DAGSTER_CLOUD_DEPLOYMENT"],
        },
    )
    assert result.exit_code == 0, result.output
    [(url, deployment, query, variables)] = api.calls
    assert deployment == "prod" and url.startswith("https://example.")
    assert "reconcileAlertPoliciesFromDocument" in query
    assert variables == {"document": safe_load_yaml(ALERT_POLICIES.read_text())}
    assert "weekly-snapshot-run-failed" in result.output


# --- code references --------------------------------------------------------------------------


def test_each_deploy_links_the_assets_to_the_commit_it_deploys(tmp_path):
    for job, deploy_step in (
        ("production", "Build, push and deploy to prod"),
        ("branch-deployment", "Build, push and deploy the branch deployment"),
    ):
        names = _step_names(job)
        link = "Link the assets to this commit's code"
        assert names.index(link) < names.index(deploy_step), job
        assert _workflow_step(job, link)["run"] == (
            f"python {LINK_CODE_TO_COMMIT.relative_to(PROJECT_ROOT)} container_context.yaml"
        )
    branch_names = _step_names("branch-deployment")
    assert branch_names.index("Use the branch deployments' container context") < (
        branch_names.index(link)
    )

    for committed in (dagster_plus.CONTAINER_CONTEXT, dagster_plus.BRANCH_CONTAINER_CONTEXT):
        context_path = tmp_path / "container_context.yaml"
        shutil.copy(PROJECT_ROOT / committed, context_path)
        github = {
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "example/spotify_assets",
            "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        }
        subprocess.run(
            [sys.executable, str(LINK_CODE_TO_COMMIT), str(context_path)],
            env={**os.environ, **github},
            check=True,
        )
        before, after = _ecs_context(PROJECT_ROOT / committed), _ecs_context(context_path)
        assert after.env_vars == [
            *before.env_vars,
            f"{code_references.ENV_GIT_URL}=https://github.com/example/spotify_assets",
            f"{code_references.ENV_GIT_SHA}={github['GITHUB_SHA']}",
        ]
        assert after.secrets == before.secrets
        assert after.task_role_arn == before.task_role_arn
