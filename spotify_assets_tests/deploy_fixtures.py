"""The deployment's CloudFormation stack in moto's server, and IAM policies evaluated offline.

moto's CloudFormation creates the resource types it knows (S3 bucket, DynamoDB tables, IAM roles
and policies, log group, ECR repository) and skips the others; :func:`create_skipped` makes those
(Glue, Athena, Secrets Manager, the OIDC provider) through their own APIs from the same template,
and applies the bucket and table properties moto's CloudFormation leaves out. The bucket policy
is the exception: moto's S3 would apply its Deny without its Condition, so tests read it from the
template.
"""

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from cfnlint.decode import decode_str

from spotify_assets.aws.template import TEMPLATE_PATH

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STACK_TEMPLATE = PROJECT_ROOT / TEMPLATE_PATH
STACK_NAME = "spotify-assets"
ACCOUNT = "123456789012"  # moto's


def load_template(path: Path = STACK_TEMPLATE) -> dict:
    """The template as a dict, short-form functions in their long form (``Fn::Sub``)."""
    template, matches = decode_str(path.read_text(encoding="utf-8"))
    assert template is not None, [str(match) for match in matches]
    return template


@dataclass
class Stack:
    """A stack's template, parameters and the names of its resources, and CloudFormation's
    functions evaluated over them."""

    template: dict
    parameters: dict[str, str]
    region: str
    name: str = STACK_NAME
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def parameter(self, name: str):
        definition = self.template["Parameters"][name]
        value = self.parameters.get(name, definition.get("Default"))
        if definition["Type"] == "CommaDelimitedList":
            return [item.strip() for item in value.split(",")]
        return value

    def ref(self, name: str):
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": self.region,
            "AWS::StackName": self.name,
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template["Parameters"]:
            return self.parameter(name)
        return self.physical_ids[name]

    def get_att(self, resource: str, attribute: str) -> str:
        return self.attributes[(resource, attribute)]

    def condition(self, name: str) -> bool:
        return self.resolve(self.template["Conditions"][name])

    def resolve(self, value):
        """``value`` with every function (Ref, Sub, GetAtt, Join, If, Equals) evaluated."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(function, argument)] = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                return self.get_att(*argument)
            if function == "Fn::Join":
                separator, items = argument
                items = self.resolve(items)
                return separator.join(str(item) for item in items)
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::Equals":
                left, right = self.resolve(argument)
                return left == right
            if function == "Fn::If":
                name, then, otherwise = argument
                return self.resolve(then if self.condition(name) else otherwise)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resources(self, resource_type: str) -> dict[str, dict]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def properties(self, logical_id: str) -> dict:
        resource = self.template["Resources"][logical_id]
        return self.resolve(resource.get("Properties", {}))

    def policy_statements(self, logical_id: str) -> list[dict]:
        """The statements of a managed policy of the template, every name filled in."""
        return self.properties(logical_id)["PolicyDocument"]["Statement"]


# moto warns once per resource type its CloudFormation skips; create_skipped makes those.
IGNORE_SKIPPED_TYPES = "ignore:Tried to parse AWS:UserWarning"


def create_stack(parameters: dict[str, str], region: str, template_path=STACK_TEMPLATE) -> Stack:
    """Creates the stack through moto's CloudFormation (``AWS_ENDPOINT_URL``), then what moto's
    CloudFormation skips through the services' own APIs."""
    body = template_path.read_text(encoding="utf-8")
    cloudformation = boto3.client("cloudformation", region_name=region)
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    description = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert description["StackStatus"] == "CREATE_COMPLETE", description.get("StackStatusReason")
    stack = Stack(load_template(template_path), parameters, region)
    summaries = cloudformation.list_stack_resources(StackName=STACK_NAME)
    for summary in summaries["StackResourceSummaries"]:
        if summary.get("PhysicalResourceId"):
            stack.physical_ids[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
    _read_attributes(stack)
    create_skipped(stack)
    stack.outputs = {
        name: str(stack.resolve(output["Value"]))
        for name, output in stack.template["Outputs"].items()
    }
    return stack


def _read_attributes(stack: Stack) -> None:
    dynamodb = boto3.client("dynamodb", region_name=stack.region)
    for logical_id in stack.resources("AWS::DynamoDB::Table"):
        table = dynamodb.describe_table(TableName=stack.physical_ids[logical_id])["Table"]
        stack.attributes[(logical_id, "Arn")] = table["TableArn"]
    for logical_id in stack.resources("AWS::S3::Bucket"):
        stack.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{stack.physical_ids[logical_id]}"
    iam = boto3.client("iam", region_name=stack.region)
    for logical_id in stack.resources("AWS::IAM::Role"):
        role = iam.get_role(RoleName=stack.physical_ids[logical_id])["Role"]
        stack.attributes[(logical_id, "Arn")] = role["Arn"]
    ecr = boto3.client("ecr", region_name=stack.region)
    for logical_id in stack.resources("AWS::ECR::Repository"):
        [repository] = ecr.describe_repositories(repositoryNames=[stack.physical_ids[logical_id]])[
            "repositories"
        ]
        stack.attributes[(logical_id, "Arn")] = repository["repositoryArn"]
        stack.attributes[(logical_id, "RepositoryUri")] = repository["repositoryUri"]


def create_skipped(stack: Stack) -> None:
    """Makes, through their APIs, the resources and properties moto's CloudFormation skips."""
    region = stack.region
    glue = boto3.client("glue", region_name=region)
    for logical_id in stack.resources("AWS::Glue::Database"):
        properties = stack.properties(logical_id)
        glue.create_database(DatabaseInput=properties["DatabaseInput"])
        stack.physical_ids[logical_id] = properties["DatabaseInput"]["Name"]
    for logical_id in stack.resources("AWS::Glue::Table"):
        properties = stack.properties(logical_id)
        glue.create_table(
            DatabaseName=properties["DatabaseName"], TableInput=properties["TableInput"]
        )
        stack.physical_ids[logical_id] = properties["TableInput"]["Name"]
    athena = boto3.client("athena", region_name=region)
    for logical_id in stack.resources("AWS::Athena::WorkGroup"):
        properties = stack.properties(logical_id)
        athena.create_work_group(
            Name=properties["Name"],
            Description=properties.get("Description", ""),
            Configuration=properties["WorkGroupConfiguration"],
        )
        stack.physical_ids[logical_id] = properties["Name"]
    secrets = boto3.client("secretsmanager", region_name=region)
    for logical_id in stack.resources("AWS::SecretsManager::Secret"):
        properties = stack.properties(logical_id)
        created = secrets.create_secret(
            Name=properties["Name"],
            Description=properties.get("Description", ""),
            SecretString=properties["SecretString"],
        )
        stack.physical_ids[logical_id] = created["ARN"]
    s3 = boto3.client("s3", region_name=region)
    # Not the bucket policy: moto's S3 applies a Deny without reading its Condition, so the
    # TLS-only statement would refuse every request, over TLS or not. The tests read it from
    # the template instead.
    iam = boto3.client("iam", region_name=region)
    for logical_id, resource in stack.resources("AWS::IAM::OIDCProvider").items():
        if "Condition" in resource and not stack.condition(resource["Condition"]):
            continue
        properties = stack.properties(logical_id)
        created = iam.create_open_id_connect_provider(
            Url=properties["Url"], ClientIDList=properties["ClientIdList"]
        )
        stack.physical_ids[logical_id] = created["OpenIDConnectProviderArn"]
    for logical_id in stack.resources("AWS::S3::Bucket"):
        _apply_bucket_properties(s3, stack.physical_ids[logical_id], stack.properties(logical_id))
    dynamodb = boto3.client("dynamodb", region_name=region)
    for logical_id in stack.resources("AWS::DynamoDB::Table"):
        properties = stack.properties(logical_id)
        name = stack.physical_ids[logical_id]
        if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )


def _apply_bucket_properties(s3, bucket: str, properties: dict) -> None:
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"],
        )
    rules = properties.get("LifecycleConfiguration", {}).get("Rules", [])
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
        )


def _lifecycle_rule(rule: dict) -> dict:
    """A lifecycle rule as CloudFormation writes it, as S3's API takes it."""
    converted = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "Transitions" in rule:
        converted["Transitions"] = [
            {"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
        ]
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": rule["ExpirationInDays"]}
    if "NoncurrentVersionExpiration" in rule:
        converted["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
        }
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return converted


# --- IAM, evaluated offline -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One IAM authorization a call needs: an action on a resource, with its condition keys."""

    action: str
    resource: str
    context: tuple[tuple[str, str], ...] = ()


def _matches(pattern: str, value: str) -> bool:
    # IAM's wildcards: * any run of characters (slashes too), ? one character.
    return fnmatch.fnmatchcase(value, pattern)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict | None, context: dict[str, str]) -> bool:
    for operator, keys in (condition or {}).items():
        for key, patterns in keys.items():
            if key not in context:
                return False
            if operator == "StringLike":
                if not any(_matches(p, context[key]) for p in _as_list(patterns)):
                    return False
            elif operator == "StringEquals":
                if context[key] not in _as_list(patterns):
                    return False
            else:
                raise NotImplementedError(operator)
    return True


def allowed(statements: list[dict], request: Request) -> bool:
    """Whether an Allow statement (and no Deny) grants ``request``; conditions: StringLike and
    StringEquals, a missing key failing the condition, as IAM evaluates them."""
    context = dict(request.context)

    def applies(statement: dict) -> bool:
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        return (
            any(_matches(a.lower(), request.action.lower()) for a in actions)
            and any(_matches(r, request.resource) for r in resources)
            and _condition_holds(statement.get("Condition"), context)
        )

    if any(s["Effect"] == "Deny" and applies(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and applies(s) for s in statements)


def granted_actions(statements: list[dict]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in _as_list(s["Action"])}


_TRANSACTION_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Delete": "dynamodb:DeleteItem",
    "Update": "dynamodb:UpdateItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def requests_of_call(
    service: str, operation: str, params: dict, region: str, workgroup_of_query
) -> list[Request]:
    """The authorizations one recorded API call needs, each on the resource it touches.
    ``workgroup_of_query(id)`` names the Athena workgroup a query ran in."""
    if service == "s3":
        bucket = params["Bucket"]
        if "Key" in params:
            action = {"HeadObject": "GetObject"}.get(operation, operation)
            return [Request(f"s3:{action}", f"arn:aws:s3:::{bucket}/{params['Key']}")]
        if operation in ("ListObjects", "ListObjectsV2"):
            context = (("s3:prefix", params.get("Prefix", "")),)
            return [Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", context)]
        action = {"HeadBucket": "ListBucket"}.get(operation, operation)
        return [Request(f"s3:{action}", f"arn:aws:s3:::{bucket}")]
    if service == "dynamodb":
        table_arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{{}}"
        if operation == "BatchGetItem":
            return [
                Request("dynamodb:BatchGetItem", table_arn.format(name))
                for name in params["RequestItems"]
            ]
        if operation == "TransactWriteItems":
            return [
                Request(_TRANSACTION_ACTIONS[kind], table_arn.format(change["TableName"]))
                for item in params["TransactItems"]
                for kind, change in item.items()
            ]
        resource = table_arn.format(params["TableName"])
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [Request(f"dynamodb:{operation}", resource)]
    if service == "athena":
        if operation == "StartQueryExecution":
            workgroup = params.get("WorkGroup", "primary")
        else:
            workgroup = workgroup_of_query(params["QueryExecutionId"])
        resource = f"arn:aws:athena:{region}:{ACCOUNT}:workgroup/{workgroup}"
        return [Request(f"athena:{operation}", resource)]
    raise NotImplementedError(f"{service}:{operation}")
