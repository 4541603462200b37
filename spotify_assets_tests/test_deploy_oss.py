"""Self-hosted Dagster (deploy/oss): dagster.yaml valid against Dagster's schemas, down to each
configured class, and its environment set by every task of the ECS stack."""

import importlib
import re

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config

from spotify_assets.alerts import ENV_ALERT_WEBHOOK_URL
from spotify_assets_tests.deploy_fixtures import (
    ACCOUNT,
    PROJECT_ROOT,
    Request,
    Stack,
    allowed,
    load_template,
)

OSS = PROJECT_ROOT / "deploy" / "oss"
DAGSTER_YAML = OSS / "dagster.yaml"
ECS_TEMPLATE = OSS / "dagster-ecs.yaml"
CLASS_SECTIONS = ("run_launcher", "run_coordinator", "compute_logs")


def _env_variables(value) -> set[str]:
    """Every variable named by an ``{env: NAME}`` in a config."""
    if isinstance(value, dict):
        if set(value) == {"env"}:
            return {value["env"]}
        return set().union(*(_env_variables(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_env_variables(v) for v in value))
    return set()


@pytest.fixture
def instance_config() -> dict:
    return yaml.safe_load(DAGSTER_YAML.read_text())


def test_dagster_yaml_is_valid_down_to_each_class(instance_config, monkeypatch):
    for variable in _env_variables(instance_config):
        monkeypatch.setenv(variable, "set-by-the-task-definition")
    config, _ = dagster_instance_config(str(OSS))  # raises on anything the schema refuses
    for section in CLASS_SECTIONS:
        module, name = config[section]["module"], config[section]["class"]
        configurable = getattr(importlib.import_module(module), name)
        result = process_config(configurable.config_type(), config[section].get("config", {}))
        assert result.success, (section, [error.message for error in result.errors])

    assert config["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_POSTGRES_PASSWORD"
    }
    assert config["run_launcher"]["class"] == "EcsRunLauncher"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    # The queue's limits live in `concurrency`, the form that pools can be combined with.
    assert "max_concurrent_runs" not in config["run_coordinator"].get("config", {})
    assert config["compute_logs"]["class"] == "S3ComputeLogManager"
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]


def test_every_task_of_the_stack_sets_what_dagster_yaml_reads(instance_config):
    template = load_template(ECS_TEMPLATE)
    wanted = _env_variables(instance_config)
    definitions = {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }
    assert set(definitions) == {
        "RunTaskDefinition",
        "DaemonTaskDefinition",
        "WebserverTaskDefinition",
    }
    for logical_id, properties in definitions.items():
        [container] = properties["ContainerDefinitions"]
        names = {e["Name"] for e in container["Environment"]}
        names |= {s["Name"] for s in container["Secrets"]}
        assert wanted <= names, (logical_id, wanted - names)
        assert {"SPOTIFY_CLIENT_ID", "SPOTIFY_PLAYLISTS", "SPOTIFY_ASSETS_ENV"} <= names
        # The same settings everywhere: definitions load alike in the daemon and in runs.
        assert (
            container["Environment"]
            == definitions["RunTaskDefinition"]["ContainerDefinitions"][0]["Environment"]
        )
    run_container = definitions["RunTaskDefinition"]["ContainerDefinitions"][0]
    assert run_container["Name"] == instance_config["run_launcher"]["config"]["container_name"]
    [family] = [
        e["Value"]
        for e in run_container["Environment"]
        if e["Name"] == "DAGSTER_RUN_TASK_DEFINITION"
    ]
    assert family == definitions["RunTaskDefinition"]["Family"]


def test_the_daemon_may_start_only_the_run_task_definition():
    stack = Stack(load_template(ECS_TEMPLATE), {"ImageUri": "image"}, "eu-west-1", name="dagster")
    stack.attributes[("RunRole", "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/dagster-run"
    stack.attributes[("ExecutionRole", "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/dagster-execution"
    [policy] = stack.template["Resources"]["InstanceRole"]["Properties"]["Policies"]
    resolved = stack.resolve(
        {k: v for k, v in policy["PolicyDocument"].items() if k != "Statement"}
        | {
            "Statement": [
                s
                for s in policy["PolicyDocument"]["Statement"]
                if s["Sid"] in ("StartRuns", "PassTheRunRoles")
            ]
        }
    )
    statements = resolved["Statement"]
    task_definitions = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition"
    assert allowed(statements, Request("ecs:RunTask", f"{task_definitions}/dagster-run:3"))
    assert not allowed(statements, Request("ecs:RunTask", f"{task_definitions}/dagster-daemon:1"))
    assert allowed(statements, Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/dagster-run"))
    assert not allowed(statements, Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin"))


def test_the_workspace_loads_the_package_dg_deploys():
    [entry] = yaml.safe_load((OSS / "workspace.yaml").read_text())["load_from"]
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    [target] = re.findall(r'code_location_target_module = "([^"]+)"', pyproject)
    assert entry["python_module"]["module_name"] == target
    assert entry["python_module"]["location_name"] == "spotify_assets"


def test_only_the_daemon_gets_the_alert_webhook_which_the_execution_role_may_read():
    template = load_template(ECS_TEMPLATE)
    webhook_secret = {"Fn::ImportValue": {"Fn::Sub": "${DataStackName}-AlertWebhookSecretArn"}}
    secrets_by_task = {
        logical_id: {
            secret["Name"]: secret["ValueFrom"]
            for secret in resource["Properties"]["ContainerDefinitions"][0]["Secrets"]
        }
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }
    # The daemon evaluates the sensors, alert_on_failure among them; runs and the webserver
    # never post an alert.
    daemon = secrets_by_task.pop("DaemonTaskDefinition")
    assert daemon[ENV_ALERT_WEBHOOK_URL] == {
        "Fn::Sub": [f"${{Secret}}:{ENV_ALERT_WEBHOOK_URL}::", {"Secret": webhook_secret}]
    }
    assert all(ENV_ALERT_WEBHOOK_URL not in secrets for secrets in secrets_by_task.values())

    [policy] = template["Resources"]["ExecutionRole"]["Properties"]["Policies"]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "secretsmanager:GetSecretValue"
    assert webhook_secret in statement["Resource"]
