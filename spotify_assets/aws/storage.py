"""Creating the aws deployment's bucket and tables from :mod:`spotify_assets.aws.tables`: for
development against moto's server or LocalStack, tests, and a first try on a real account.
Production creates them with the deployment's stack from the same definitions."""

from botocore.exceptions import ClientError

from spotify_assets.aws.tables import ALL_TABLES, Table


class TableMismatchError(RuntimeError):
    """A table of that name exists with other keys or indexes than the definition's."""


def _differences(table: Table, prefix: str, description: dict) -> list[str]:
    wanted = table.create_table_request(prefix)
    kinds = ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
    found_indexes = {
        index["IndexName"]: index["KeySchema"]
        for kind in kinds
        for index in description.get(kind, [])
    }
    wanted_indexes = {
        index["IndexName"]: index["KeySchema"] for kind in kinds for index in wanted.get(kind, [])
    }
    differences = []
    if description["KeySchema"] != wanted["KeySchema"]:
        differences.append(f"key {description['KeySchema']}, not {wanted['KeySchema']}")
    if found_indexes != wanted_indexes:
        differences.append(f"indexes {sorted(found_indexes)}, not {sorted(wanted_indexes)}")
    return differences


def create_tables(dynamodb, prefix: str) -> dict[str, bool]:
    """Creates every table that does not exist yet and waits until all are active; returns each
    table's name and whether it was created. An existing table must match its definition."""
    created = {}
    for table in ALL_TABLES.values():
        name = table.table_name(prefix)
        try:
            dynamodb.create_table(**table.create_table_request(prefix))
            created[name] = True
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
            created[name] = False
    for table in ALL_TABLES.values():
        name = table.table_name(prefix)
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
        )
        if not created[name]:
            description = dynamodb.describe_table(TableName=name)["Table"]
            differences = _differences(table, prefix, description)
            if differences:
                raise TableMismatchError(
                    f"table {name} exists with {'; '.join(differences)}: delete it or use "
                    "another table prefix"
                )
    return created


def create_bucket(s3, bucket: str) -> bool:
    """Creates the bucket unless it exists; returns whether it was created."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    region = s3.meta.region_name
    configuration = {}
    if region and region != "us-east-1":  # us-east-1 is the default and refuses to be named
        configuration["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(Bucket=bucket, **configuration)
    return True
