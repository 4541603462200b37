"""The Dagster+ files of the project, from the stack's outputs: ``build.yaml`` (where
``dg plus deploy`` pushes the image) and the ECS container contexts of production
(``container_context.yaml``) and of branch deployments.

Production's runs get the stack's settings as environment variables, the Spotify credentials
and the failure alerts' webhook from its secrets through ECS secrets, and the run role. Branch
deployments get the branch role, no Spotify credentials and no webhook: they replay the sample
dataset under their own prefixes, so a pull request never reads production's data nor spends its
Spotify quota, and its failures are not reported as production's.
"""

from pathlib import Path

import yaml

from spotify_assets import alerts, constants
from spotify_assets.sources import live
from spotify_assets.sql import athena

BUILD_YAML = Path("build.yaml")
CONTAINER_CONTEXT = Path("container_context.yaml")
BRANCH_CONTAINER_CONTEXT = Path("deploy") / "dagster-plus" / "container_context.branch.yaml"
SECRET_VARIABLES = (live.ENV_CLIENT_ID, live.ENV_CLIENT_SECRET, live.ENV_REFRESH_TOKEN)
# The stack output of the webhook's secret; a stack made before it had one gets no webhook.
ALERT_WEBHOOK_SECRET_OUTPUT = "AlertWebhookSecretArn"
# Fargate sizes. A run holds one playlist-week in memory a few times over; code servers only
# load the definitions.
RUN_RESOURCES = {"cpu": "512", "memory": "2048"}
SERVER_RESOURCES = {"cpu": "256", "memory": "1024"}
# Stack output -> the environment variable runs read it from.
SETTINGS_FROM_OUTPUTS = {
    constants.ENV_S3_BUCKET: "BucketName",
    constants.ENV_S3_PREFIX: "LakePrefix",
    constants.ENV_DYNAMODB_TABLE_PREFIX: "TablePrefix",
    athena.ENV_ATHENA_DATABASE: "GlueDatabaseName",
    athena.ENV_ATHENA_WORKGROUP: "AthenaWorkGroupName",
}


def container_context(outputs: dict[str, str], playlists: list[str], branch: bool) -> dict:
    """The ``ecs`` container context of a deployment, from the stack's outputs."""
    env_vars = [f"{constants.ENV_DEPLOYMENT}=aws"] + [
        f"{variable}={outputs[output]}" for variable, output in SETTINGS_FROM_OUTPUTS.items()
    ]
    ecs: dict = {"env_vars": env_vars}
    if not branch:
        env_vars.append(f"{live.ENV_PLAYLISTS}={','.join(playlists)}")
        ecs["secrets"] = [
            # ECS reads one key of the JSON secret: <secret ARN>:<key>:<stage>:<version>.
            {"name": variable, "valueFrom": f"{outputs['SpotifySecretArn']}:{variable}::"}
            for variable in SECRET_VARIABLES
        ]
        if ALERT_WEBHOOK_SECRET_OUTPUT in outputs:
            variable = alerts.ENV_ALERT_WEBHOOK_URL
            ecs["secrets"].append(
                {
                    "name": variable,
                    "valueFrom": f"{outputs[ALERT_WEBHOOK_SECRET_OUTPUT]}:{variable}::",
                }
            )
    ecs["task_role_arn"] = outputs["BranchRunRoleArn" if branch else "RunRoleArn"]
    ecs["execution_role_arn"] = outputs["ExecutionRoleArn"]
    ecs["run_resources"] = dict(RUN_RESOURCES)
    ecs["server_resources"] = dict(SERVER_RESOURCES)
    return {"ecs": ecs}


def build_config(outputs: dict[str, str]) -> dict:
    return {"registry": outputs["ImageRepositoryUri"]}


def _header(stack: str, what: str) -> str:
    return (
        f"# {what}\n"
        f"# Written by `spotify-assets aws dagster-plus --stack {stack}` from the stack's outputs"
        "\n# (deploy/README.md); run it again after changing the stack.\n"
    )


def files(stack: str, outputs: dict[str, str], playlists: list[str]) -> dict[Path, str]:
    """Each file's path, relative to the project's root, and its text."""

    def dump(value: dict) -> str:
        return yaml.safe_dump(value, sort_keys=False, width=200)

    return {
        BUILD_YAML: _header(stack, "Where `dg plus deploy` pushes the image it builds.")
        + dump(build_config(outputs)),
        CONTAINER_CONTEXT: _header(stack, "What production's code servers and runs get on ECS.")
        + dump(container_context(outputs, playlists, branch=False)),
        BRANCH_CONTAINER_CONTEXT: _header(
            stack,
            "What branch deployments' code servers and runs get on ECS: the deploy workflow puts "
            "it in\n# place of container_context.yaml for pull requests.",
        )
        + dump(container_context(outputs, playlists, branch=True)),
    }


def stack_outputs(cloudformation, stack: str) -> tuple[dict[str, str], list[str]]:
    """The stack's outputs, and the playlist ids of its ``Playlists`` parameter."""
    [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in description["Parameters"]}
    playlists = [p.strip() for p in parameters["Playlists"].split(",") if p.strip()]
    return outputs, playlists
