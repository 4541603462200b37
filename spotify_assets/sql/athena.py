"""The lake in Athena: the view files run unchanged over the Glue tables of the same names.

Athena has only the tables, so a query that reads a view gets it (and the views it reads) as
``WITH`` clauses first: :func:`spotify_assets.sql.catalog.inline_views`. A query over some
partitions gets each table it reads as a ``WITH`` clause too, filtered on ``week`` and
``playlist`` with literals, so that partition projection reads only those partitions' folders.
"""

import os
import time
from dataclasses import dataclass

from spotify_assets import constants
from spotify_assets.sql.catalog import PartitionsByTable, inline_views, tables_in, views_in
from spotify_assets.sql.result import QueryResult

ENV_ATHENA_DATABASE = "SPOTIFY_ASSETS_ATHENA_DATABASE"
ENV_ATHENA_WORKGROUP = "SPOTIFY_ASSETS_ATHENA_WORKGROUP"
ENV_ATHENA_OUTPUT = "SPOTIFY_ASSETS_ATHENA_OUTPUT"
DEFAULT_DATABASE = "spotify_assets"
DEFAULT_WORKGROUP = "primary"
RESULTS_FOLDER = "athena-results"

_DONE = ("SUCCEEDED", "FAILED", "CANCELLED")
_INTEGER_TYPES = ("tinyint", "smallint", "integer", "int", "bigint")
_FLOAT_TYPES = ("double", "float", "real")


class AthenaQueryError(RuntimeError):
    """A query Athena did not run to the end; says why, as Athena put it."""


@dataclass(frozen=True)
class AthenaSettings:
    """Where queries run: the Glue database holding the lake's tables, the workgroup, and the
    S3 folder for results (None: the workgroup's own)."""

    database: str = DEFAULT_DATABASE
    workgroup: str = DEFAULT_WORKGROUP
    output_location: str | None = None

    @classmethod
    def from_environment(cls) -> "AthenaSettings":
        """``SPOTIFY_ASSETS_ATHENA_DATABASE``, ``..._WORKGROUP`` and ``..._OUTPUT``; the output
        defaults to ``athena-results/`` beside the lake when the bucket is set."""
        output = os.environ.get(ENV_ATHENA_OUTPUT, "").strip() or None
        bucket = os.environ.get(constants.ENV_S3_BUCKET, "").strip()
        if output is None and bucket:
            prefix = os.environ.get(constants.ENV_S3_PREFIX, "").strip().strip("/")
            output = "s3://" + "/".join(filter(None, [bucket, prefix, RESULTS_FOLDER])) + "/"
        return cls(
            database=os.environ.get(ENV_ATHENA_DATABASE, "").strip() or DEFAULT_DATABASE,
            workgroup=os.environ.get(ENV_ATHENA_WORKGROUP, "").strip() or DEFAULT_WORKGROUP,
            output_location=output,
        )


def athena_query_text(
    sql: str, partitions: PartitionsByTable | None = None, database: str = DEFAULT_DATABASE
) -> str:
    """``sql`` as Athena runs it: the views it reads become ``WITH`` clauses. With
    ``partitions``, so do the tables it reads, each over those of its partitions named there
    (none for a table left out), read from ``database``."""
    tables = None
    if partitions is not None:
        tables = {
            table: f'SELECT * FROM "{database}"."{table}"\nWHERE '
            + (partitions[table].predicate() if table in partitions else "FALSE")
            for table in tables_in(sql)
        }
    return inline_views(sql, views_in(sql), tables)


def athena_client():
    """boto3's Athena client; region, credentials and ``AWS_ENDPOINT_URL`` from the usual
    AWS settings (``AWS_REGION`` too, which boto3 alone does not read)."""
    import boto3  # here, not with the module: the local deployment imports this one, not boto3

    return boto3.client("athena", region_name=os.environ.get("AWS_REGION") or None)


class AthenaLake:
    """Runs SQL on Athena and waits for the rows."""

    engine = "athena"

    def __init__(
        self,
        settings: AthenaSettings | None = None,
        client=None,
        poll_seconds: float = 0.5,
        timeout_seconds: float = 600,
    ):
        self.settings = settings or AthenaSettings.from_environment()
        self._client = client
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    @property
    def client(self):
        if self._client is None:
            self._client = athena_client()
        return self._client

    def start(self, sql: str) -> str:
        request = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.settings.database},
            "WorkGroup": self.settings.workgroup,
        }
        if self.settings.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.settings.output_location}
        return self.client.start_query_execution(**request)["QueryExecutionId"]

    def wait(self, execution_id: str) -> dict:
        deadline = time.monotonic() + self.timeout_seconds
        delay = self.poll_seconds
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=execution_id)
            status = execution["QueryExecution"]["Status"]
            if status["State"] in _DONE:
                break
            if time.monotonic() > deadline:
                self.client.stop_query_execution(QueryExecutionId=execution_id)
                raise AthenaQueryError(
                    f"query {execution_id} still {status['State']} after "
                    f"{self.timeout_seconds:.0f} s; stopped it"
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        if status["State"] != "SUCCEEDED":
            reason = status.get("StateChangeReason") or "no reason given"
            raise AthenaQueryError(f"query {execution_id} {status['State']}: {reason}")
        return execution["QueryExecution"]

    def query(self, sql: str, partitions: PartitionsByTable | None = None) -> QueryResult:
        """Runs ``sql``, the views it reads inlined, and returns every row; with
        ``partitions``, over those only (see :func:`athena_query_text`)."""
        return self.query_many({"query": sql}, partitions)["query"]

    def query_many(
        self, queries: dict[str, str], partitions: PartitionsByTable | None = None
    ) -> dict[str, QueryResult]:
        """Starts every query, then collects each: Athena runs them side by side."""
        started = {
            name: self.start(athena_query_text(sql, partitions, self.settings.database))
            for name, sql in queries.items()
        }
        for execution_id in started.values():
            self.wait(execution_id)
        return {name: self.results(execution_id) for name, execution_id in started.items()}

    def results(self, execution_id: str) -> QueryResult:
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple] = []
        paginator = self.client.get_paginator("get_query_results")
        for page_number, page in enumerate(paginator.paginate(QueryExecutionId=execution_id)):
            result_set = page["ResultSet"]
            page_rows = result_set.get("Rows", [])
            if page_number == 0:
                info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
                columns = [column["Name"] for column in info]
                types = [column.get("Type", "varchar").lower() for column in info]
                # The first row of a SELECT's first page repeats the column names.
                page_rows = page_rows[1:]
            for row in page_rows:
                values = [cell.get("VarCharValue") for cell in row.get("Data", [])]
                rows.append(tuple(_typed(v, t) for v, t in zip(values, types, strict=False)))
        return QueryResult(columns, rows)


def _typed(value: str | None, athena_type: str):
    """Athena returns every value as text; numbers and booleans get their type back."""
    if value is None:
        return None
    if athena_type in _INTEGER_TYPES:
        return int(value)
    if athena_type in _FLOAT_TYPES or athena_type.startswith("decimal"):
        return float(value)
    if athena_type == "boolean":
        return value == "true"
    return value
