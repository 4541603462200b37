"""Dagster+ hybrid on ECS: the files `dg plus deploy` reads ([tool.dg], build.yaml,
container_context.yaml), written by `spotify-assets aws dagster-plus` from the stack's outputs,
and valid for dagster-cloud's deploy check and dagster-aws's ECS container context; the
deployment settings valid against Dagster's own schemas."""

from pathlib import Path

import pytest
import yaml
from dagster._config import Shape, validate_config
from dagster._core.instance.config import (
    dagster_instance_config_schema,
    validate_concurrency_config,
)
from dagster_aws.ecs.container_context import EcsContainerContext
from dagster_cloud_cli.commands.ci import checks
from dagster_dg_cli.cli.utils import create_temp_dagster_cloud_yaml_file
from dagster_dg_core.context import DgContext

from spotify_assets import constants
from spotify_assets.aws import dagster_plus
from spotify_assets.cli import main
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
SETTINGS = PROJECT_ROOT / "deploy" / "dagster-plus" / "deployment_settings.yaml"
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
def written(aws, tmp_path, monkeypatch) -> dict[Path, str]:
    """The files `spotify-assets aws dagster-plus` writes for the example stack."""
    stack = create_stack(EXAMPLE_PARAMETERS, REGION)
    monkeypatch.setattr(
        "spotify_assets.aws.cli.boto3.client", lambda service, **_: _CloudFormation(stack)
    )
    assert main(["aws", "dagster-plus", "--project-dir", str(tmp_path)]) == 0
    secret_arn = stack.outputs["SpotifySecretArn"]
    return {
        relative: (tmp_path / relative).read_text().replace(secret_arn, EXAMPLE_SECRET_ARN)
        for relative in FILES
    }


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
    assert [secret["name"] for secret in context.secrets] == list(dagster_plus.SECRET_VARIABLES)
    for secret in context.secrets:
        assert secret["valueFrom"] == f"{EXAMPLE_SECRET_ARN}:{secret['name']}::"
    assert context.task_role_arn.endswith(":role/spotify-assets-run")
    assert context.execution_role_arn.endswith(":role/spotify-assets-execution")


def test_branch_deployments_get_the_branch_role_and_no_spotify_credentials():
    production = _ecs_context(PROJECT_ROOT / dagster_plus.CONTAINER_CONTEXT)
    branch = _ecs_context(PROJECT_ROOT / dagster_plus.BRANCH_CONTAINER_CONTEXT)
    assert branch.task_role_arn.endswith(":role/spotify-assets-branch-run")
    assert branch.execution_role_arn == production.execution_role_arn
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
