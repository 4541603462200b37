"""Metadata a user looks at in the Dagster UI: rows, columns with what each holds, and a preview.

The column descriptions come from :mod:`spotify_assets.transforms.schema`; the same column schema
goes into an asset's definition (so the UI lists the columns before the first materialization)
and into every materialization.
"""

import dagster as dg
import pyarrow as pa

from spotify_assets.transforms import schema

PREVIEW_ROWS = 5
COLUMN_SCHEMA = "dagster/column_schema"


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
    """Row count, column schema (``table_schema``, default the table's own) and the first rows
    of a table, for the Dagster UI."""
    return {
        "dagster/row_count": table.num_rows,
        COLUMN_SCHEMA: column_schema(table_name, table_schema or table.schema),
        "preview": dg.MetadataValue.md(markdown_preview(table)),
    }
