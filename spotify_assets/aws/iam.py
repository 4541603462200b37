"""The IAM actions the code uses, by API operation: what a least-privilege policy grants.

The infrastructure code builds its policies from these (``spotify-assets aws template``); a test
records every call an aws-mode run makes and checks that the policy grants each one, and nothing
else.
"""

# Every AWS API operation a run can make, and the IAM actions it needs.
RUN_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "s3": {
        "PutObject": ("s3:PutObject",),
        "GetObject": ("s3:GetObject",),
        "HeadObject": ("s3:GetObject",),
    },
    "dynamodb": {
        "BatchGetItem": ("dynamodb:BatchGetItem",),
        "GetItem": ("dynamodb:GetItem",),
        "PutItem": ("dynamodb:PutItem",),
        "DeleteItem": ("dynamodb:DeleteItem",),
        "UpdateItem": ("dynamodb:UpdateItem",),
        "Query": ("dynamodb:Query",),
        "Scan": ("dynamodb:Scan",),
        # A transaction needs the actions of what it holds: puts, updates, deletes and the check
        # of the writer's lease.
        "TransactWriteItems": (
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ),
    },
    # The analytics assets run the SQL views on Athena (spotify_assets/sql/athena.py).
    "athena": {
        "StartQueryExecution": ("athena:StartQueryExecution",),
        "GetQueryExecution": ("athena:GetQueryExecution",),
        "GetQueryResults": ("athena:GetQueryResults",),
        "StopQueryExecution": ("athena:StopQueryExecution",),
    },
}
# On the bucket, limited to the prefix: without it S3 answers a missing key with 403, not 404.
RUN_EXTRA_ACTIONS = ("s3:ListBucket",)

# What Athena does with the caller's credentials while it runs a query: no call of ours makes
# these, so no client records them, but a query fails without them. It reads the tables from
# Glue and their files from S3 (s3:GetObject, s3:ListBucket, granted above), and writes the
# results into the workgroup's folder, beside the lake.
ATHENA_ON_BEHALF_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetTable",
    "s3:GetBucketLocation",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:AbortMultipartUpload",
)

# What each action is granted on. The policies name these resources: the objects under the
# lake's prefix, the bucket itself, the serving tables (and their indexes), the Athena workgroup,
# the Glue database with its tables, and the folder of Athena's results.
LAKE_OBJECTS = "lake objects"
BUCKET = "bucket"
TABLES = "tables"
WORKGROUP = "workgroup"
GLUE_TABLES = "glue tables"
ATHENA_RESULTS = "athena results"
RESOURCE_OF_SERVICE = {"dynamodb": TABLES, "athena": WORKGROUP, "glue": GLUE_TABLES}
RESOURCE_OF_ACTION = {
    "s3:GetObject": LAKE_OBJECTS,
    "s3:PutObject": LAKE_OBJECTS,
    "s3:ListBucket": BUCKET,
    "s3:GetBucketLocation": BUCKET,
    "s3:ListBucketMultipartUploads": BUCKET,
    "s3:ListMultipartUploadParts": ATHENA_RESULTS,
    "s3:AbortMultipartUpload": ATHENA_RESULTS,
}

# What `spotify-assets aws init` adds (development; production creates storage with its stack).
INIT_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "s3": {"HeadBucket": ("s3:ListBucket",), "CreateBucket": ("s3:CreateBucket",)},
    "dynamodb": {
        "CreateTable": ("dynamodb:CreateTable",),
        "DescribeTable": ("dynamodb:DescribeTable",),
    },
}

# The pull-request workflow: `spotify-assets aws init --no-bucket` creates a branch deployment's
# tables and `spotify-assets aws drop-branch` deletes them when the pull request closes.
BRANCH_TABLE_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "dynamodb": {**INIT_OPERATIONS["dynamodb"], "DeleteTable": ("dynamodb:DeleteTable",)}
}


def actions(operations: dict[str, dict[str, tuple[str, ...]]], *extra: str) -> list[str]:
    """The IAM actions of these operations, sorted, each once."""
    return sorted(
        {a for by_name in operations.values() for o in by_name.values() for a in o} | set(extra)
    )


def resource_of(action: str) -> str:
    """What a policy grants ``action`` on: one of the resource kinds above."""
    return RESOURCE_OF_ACTION.get(action) or RESOURCE_OF_SERVICE[action.split(":")[0]]


RUN_ACTIONS = actions(RUN_OPERATIONS, *RUN_EXTRA_ACTIONS, *ATHENA_ON_BEHALF_ACTIONS)
INIT_ACTIONS = actions(INIT_OPERATIONS)
