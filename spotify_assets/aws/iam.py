"""The IAM actions the code uses, by API operation: what a least-privilege policy grants.

The infrastructure code builds its policies from these; a test checks that every call a run
makes is listed here.
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
        "Query": ("dynamodb:Query",),
        "Scan": ("dynamodb:Scan",),
        # A transaction needs the actions of what it holds: puts and deletes.
        "TransactWriteItems": ("dynamodb:PutItem", "dynamodb:DeleteItem"),
    },
}
# On the bucket, limited to the prefix: without it S3 answers a missing key with 403, not 404.
RUN_EXTRA_ACTIONS = ("s3:ListBucket",)

# What `spotify-assets aws init` adds (development; production creates storage with its stack).
INIT_OPERATIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "s3": {"HeadBucket": ("s3:ListBucket",), "CreateBucket": ("s3:CreateBucket",)},
    "dynamodb": {
        "CreateTable": ("dynamodb:CreateTable",),
        "DescribeTable": ("dynamodb:DescribeTable",),
    },
}


def actions(operations: dict[str, dict[str, tuple[str, ...]]], *extra: str) -> list[str]:
    """The IAM actions of these operations, sorted, each once."""
    return sorted(
        {a for by_name in operations.values() for o in by_name.values() for a in o} | set(extra)
    )


RUN_ACTIONS = actions(RUN_OPERATIONS, *RUN_EXTRA_ACTIONS)
INIT_ACTIONS = actions(INIT_OPERATIONS)
