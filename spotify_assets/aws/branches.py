"""The storage of a Dagster+ branch deployment: its tables go when its pull request closes.

Its lake folder (``branches/<branch>/``) expires by the bucket's lifecycle rule instead, so the
pull-request workflow never needs to delete objects.
"""

from botocore.exceptions import ClientError

from spotify_assets import constants
from spotify_assets.aws.tables import ALL_TABLES
from spotify_assets.deployment import aws_storage, branch_name


class NotABranchError(RuntimeError):
    """Deleting tables outside a branch deployment would delete production's."""


def delete_branch_tables(dynamodb) -> dict[str, bool]:
    """Deletes the current branch deployment's tables; returns each name and whether it existed.
    Refuses unless ``DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT`` names a branch."""
    if not branch_name():
        raise NotABranchError(
            "not a branch deployment (DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT is not 1): refusing to "
            "delete any table"
        )
    storage = aws_storage()  # in a branch, the table prefix starts with `branch-<branch>-`
    if storage.table_prefix is None:
        raise NotABranchError(f"set {constants.ENV_DYNAMODB_TABLE_PREFIX} first")
    deleted = {}
    for table in ALL_TABLES.values():
        name = table.table_name(storage.table_prefix)
        try:
            dynamodb.delete_table(TableName=name)
            deleted[name] = True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            deleted[name] = False
    return deleted
