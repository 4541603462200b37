"""Materialization metadata a user looks at: rows, columns and a preview."""

import dagster as dg
import pyarrow as pa

PREVIEW_ROWS = 5


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


def table_metadata(table: pa.Table) -> dict:
    """Row count, column schema and the first rows of a table, for the Dagster UI."""
    columns = [dg.TableColumn(field.name, str(field.type)) for field in table.schema]
    return {
        "dagster/row_count": table.num_rows,
        "dagster/column_schema": dg.TableSchema(columns),
        "preview": dg.MetadataValue.md(markdown_preview(table)),
    }
