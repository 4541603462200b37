"""Metadata a user looks at in the Dagster UI: rows, columns with what each holds, and a preview.

The column descriptions come from :mod:`spotify_assets.transforms.schema`; the same column schema
goes into an asset's definition (so the UI lists the columns before the first materialization)
and into every materialization.
"""

import dagster as dg
import pyarrow as pa

from spotify_assets import deployment
from spotify_assets.sql.athena import AthenaSettings
from spotify_assets.transforms import schema

PREVIEW_ROWS = 5
COLUMN_SCHEMA = "dagster/column_schema"
# The rows of one partition; Dagster keeps dagster/row_count for a table's whole size.
PARTITION_ROW_COUNT = "dagster/partition_row_count"
TABLE_NAME = "dagster/table_name"
# Who answers for the assets: shown on every asset's page, and the UI filters by it.
OWNERS = ["team:spotify-assets"]


def _cell(value) -> str:
    if value is None:
        return ""
    # Names may hold newlines and pipes; either would break the Markdown table.
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_preview(table: pa.Table, rows: int = PREVIEW_ROWS) -> str:
    """The first rows of a table as a Markdown table."""
    if table.num_rows == 0:
        return "(no rows)"
    lines = [
        "| " + " | ".join(table.column_names) + " |",
        "|" + "---|" * table.num_columns,
    ]
    for row in table.slice(0, rows).to_pylist():
        lines.append("| " + " | ".join(_cell(value) for value in row.values()) + " |")
    return "\n".join(lines)


def column_schema(table_name: str, table_schema: pa.Schema) -> dg.TableSchema:
    """The columns of ``table_schema`` for the UI: name, type, nullability and what each holds
    (the schema module's description for table ``table_name``)."""
    descriptions = schema.column_descriptions(table_name)
    return dg.TableSchema(
        [
            dg.TableColumn(
                field.name,
                str(field.type),
                description=descriptions.get(field.name),
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in table_schema
        ]
    )


def column_schema_metadata(table_name: str, table_schema: pa.Schema) -> dict:
    """Definition metadata: the column schema, shown before anything is materialized."""
    return {COLUMN_SCHEMA: column_schema(table_name, table_schema)}


def table_metadata(table: pa.Table, table_name: str, table_schema: pa.Schema | None = None) -> dict:
    """The partition's row count, column schema (``table_schema``, default the table's own) and
    first rows, for the Dagster UI."""
    return {
        PARTITION_ROW_COUNT: table.num_rows,
        COLUMN_SCHEMA: column_schema(table_name, table_schema or table.schema),
        "preview": dg.MetadataValue.md(markdown_preview(table)),
    }


def glue_table_name(table: str) -> str | None:
    """``<database>.<table>``, the Glue table Athena reads a normalized table through, in the aws
    deployment (``SPOTIFY_ASSETS_ATHENA_DATABASE``); None locally, and in a branch deployment,
    whose lake is outside the folders the Glue tables read."""
    if deployment.deployment_name() != deployment.AWS or deployment.branch_name():
        return None
    return f"{AthenaSettings.from_environment().database}.{table}"


def serving_table_name(table: str) -> str | None:
    """The DynamoDB table serving ``table`` in the aws deployment (the deployment's table
    prefix, a branch's included, then the table); None locally or with the prefix unset."""
    if deployment.deployment_name() != deployment.AWS:
        return None
    prefix = deployment.aws_storage().table_prefix
    return f"{prefix}{table}" if prefix else None


def serving_store_kind() -> str:
    """What holds the serving tables, as a kind the UI shows: ``dynamodb`` (aws) or ``sqlite``."""
    return "dynamodb" if deployment.deployment_name() == deployment.AWS else "sqlite"


def table_name_metadata(table_name: str | None) -> dict:
    """Definition metadata naming the table an asset is queried as, when there is one."""
    return {TABLE_NAME: table_name} if table_name else {}
