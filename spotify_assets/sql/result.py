"""Rows from either engine, and the three ways to print them: a table, CSV and JSON."""

import csv
import datetime as dt
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

FORMATS = ("table", "csv", "json")
_MAX_CELL = 48


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]

    @classmethod
    def from_arrow(cls, table: pa.Table) -> "QueryResult":
        columns = [column.to_pylist() for column in table.columns]
        return cls(table.column_names, list(zip(*columns, strict=True)) if columns else [])

    def records(self) -> list[dict[str, Any]]:
        """Rows as objects with JSON-ready values: dates and times in ISO 8601."""
        # A column holds one type: values that JSON takes as they are are not looked at again.
        converted = [
            [_json_value(value) for value in column] if _needs_converting(column) else column
            for column in zip(*self.rows, strict=True)
        ]
        return [dict(zip(self.columns, row, strict=True)) for row in zip(*converted, strict=True)]

    def format(self, output_format: str) -> str:
        if output_format == "json":
            return json.dumps(self.records(), ensure_ascii=False, indent=1) + "\n"
        if output_format == "csv":
            buffer = io.StringIO(newline="")
            writer = csv.writer(buffer)  # RFC 4180: CRLF, quotes doubled
            writer.writerow(self.columns)
            writer.writerows([_csv_value(value) for value in row] for row in self.rows)
            return buffer.getvalue()
        if output_format == "table":
            return self._table()
        raise ValueError(f"unknown format {output_format!r}; one of {', '.join(FORMATS)}")

    def _table(self) -> str:
        cells = [[_cell(value) for value in row] for row in self.rows]
        widths = [
            max([len(column)] + [len(row[index]) for row in cells])
            for index, column in enumerate(self.columns)
        ]
        numeric = [
            all(isinstance(row[index], int | float) or row[index] is None for row in self.rows)
            for index in range(len(self.columns))
        ]

        def line(values: list[str]) -> str:
            parts = [
                value.rjust(width) if right else value.ljust(width)
                for value, width, right in zip(values, widths, numeric, strict=True)
            ]
            return "  ".join(parts).rstrip()

        lines = [line(self.columns), line(["-" * width for width in widths])]
        lines += [line(row) for row in cells]
        count = len(self.rows)
        lines.append(f"({count} row{'' if count == 1 else 's'})")
        return "\n".join(lines) + "\n"


def _needs_converting(column: tuple) -> bool:
    return any(isinstance(value, dt.date | float) for value in column)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _csv_value(value: Any) -> Any:
    value = _json_value(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    # Names may hold newlines and tabs; they would break the table.
    text = " ".join(str(_json_value(value)).split())
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
