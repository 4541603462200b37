"""The views are one text for two engines: each parses as Trino (Athena's engine), and none
uses DuckDB-only syntax that sqlglot would let through or integer division."""

import re

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from spotify_assets.sql import catalog
from spotify_assets.sql.athena import athena_query_text
from spotify_assets.sql.duckdb_lake import connect

TRINO = "trino"
# Functions only DuckDB has (table functions and list helpers) that sqlglot parses as calls.
DUCKDB_ONLY_FUNCTIONS = {
    "read_parquet",
    "read_csv",
    "read_csv_auto",
    "read_json",
    "read_json_auto",
    "parquet_scan",
    "glob",
    "list_value",
    "list_aggregate",
    "string_agg",
    "arg_max",
    "arg_min",
    "epoch_ms",
    "strftime",
}
# Functions sqlglot does not model but Trino has, used by the views.
TRINO_FUNCTIONS: set[str] = set()


def engine_only_syntax(sql: str) -> list[str]:
    """What in ``sql`` would not run on Athena although sqlglot parses it as Trino."""
    problems = []
    tokens = sqlglot.Dialect.get_or_raise(TRINO).tokenize(sql)
    texts = [token.text.upper() for token in tokens]
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.DCOLON:
            problems.append("'::' cast (write CAST(x AS type))")
        elif texts[index] == "ILIKE":
            problems.append("ILIKE (write LOWER(x) LIKE ...)")
        elif texts[index] == "QUALIFY":
            problems.append("QUALIFY (filter a window in an outer query)")
        elif texts[index] in ("EXCLUDE", "REPLACE") and index and texts[index - 1] == "*":
            problems.append(f"SELECT * {texts[index]} (name the columns)")
        elif texts[index] == "ALL" and _before(texts, index) in ("GROUP BY", "ORDER BY"):
            problems.append(f"{_before(texts, index)} ALL (name the columns)")
        elif (
            texts[index].lower() in DUCKDB_ONLY_FUNCTIONS
            and index + 1 < len(tokens)
            and tokens[index + 1].token_type == TokenType.L_PAREN
        ):
            problems.append(f"{texts[index].lower()}() is DuckDB's")
    if re.search(r"//", _without_strings_and_comments(sql)):
        problems.append("'//' integer division")
    try:
        tree = sqlglot.parse_one(sql, read=TRINO)
    except sqlglot.errors.ParseError as error:
        return [*problems, f"not Trino: {error}"]
    for function in tree.find_all(exp.Anonymous):
        if function.name.lower() not in TRINO_FUNCTIONS:
            problems.append(f"{function.name}() is unknown to Trino as sqlglot knows it")
    for division in tree.find_all(exp.Div):
        if not (_is_double(division.this) or _is_double(division.expression)):
            problems.append(
                f"division without a cast to DOUBLE: {division.sql(TRINO)} "
                "(integers divide to an integer on Trino, to a double on DuckDB)"
            )
    return problems


def _before(texts: list[str], index: int) -> str:
    """The keyword before ``index``: "GROUP BY" is one token or two, depending on spacing."""
    if index and " " in texts[index - 1]:
        return " ".join(texts[index - 1].split())
    return " ".join(texts[max(0, index - 2) : index])


def _is_double(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_double(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT)
    return isinstance(node, exp.Literal) and not node.is_string and "." in node.name


def _without_strings_and_comments(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'|--[^\n]*", "", sql)


@pytest.mark.parametrize("name", list(catalog.views()))
def test_each_view_parses_as_trino_and_is_portable(name):
    view = catalog.view(name)
    sqlglot.parse_one(view.text, read=TRINO)  # the whole file, comments included
    assert engine_only_syntax(view.body) == []


@pytest.mark.parametrize("name", list(catalog.views()))
def test_the_athena_query_for_each_view_parses_as_trino(name):
    for week in (None, "2026-11-09", catalog.LATEST):
        query = athena_query_text(catalog.view_query(name, playlist="x'y", week=week, limit=5))
        tree = sqlglot.parse_one(query, read=TRINO)
        assert {table.name for table in tree.find_all(exp.Table)} <= {
            *catalog.LAKE_TABLES,
            *catalog.views(),
            *_cte_names(tree),
        }
        assert engine_only_syntax(query) == []
        assert "'x''y'" in query


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias for cte in tree.find_all(exp.CTE)}


def test_the_views_read_only_the_lake_and_other_views():
    for view in catalog.views().values():
        tree = sqlglot.parse_one(view.body, read=TRINO)
        read = {table.name for table in tree.find_all(exp.Table)} - _cte_names(tree)
        assert read <= {*catalog.LAKE_TABLES, *catalog.views()}, view.name
        assert set(view.dependencies) == read & set(catalog.views()), view.name


def test_the_views_are_described_and_ordered():
    for view in catalog.views().values():
        assert view.description, view.name
        assert view.dashboard in (catalog.DASHBOARD_HISTORY, catalog.DASHBOARD_LATEST_WEEK)
        assert view.order_by.startswith("playlist"), view.name
        # The order is the query's business (`-- order by:`): Trino may drop a view's ORDER BY.
        assert sqlglot.parse_one(view.body, read=TRINO).args.get("order") is None, view.name


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("SELECT duration_ms::DOUBLE FROM songs", "'::'"),
        ("SELECT * FROM songs WHERE song_name ILIKE '%rain%'", "ILIKE"),
        ("SELECT playlist, COUNT(*) AS n FROM songs GROUP BY ALL", "GROUP BY ALL"),
        ("SELECT playlist FROM songs ORDER BY ALL", "ORDER BY ALL"),
        ("SELECT * EXCLUDE (url) FROM songs", "EXCLUDE"),
        (
            "SELECT * FROM songs QUALIFY ROW_NUMBER() OVER (PARTITION BY playlist) = 1",
            "QUALIFY",
        ),
        ("SELECT * FROM read_parquet('data/normalized/songs/*/*/*.parquet')", "read_parquet"),
        ("SELECT COUNT(*) / 2 AS half FROM songs", "division without a cast"),
        ("SELECT duration_ms // 60000 AS minutes FROM songs", "'//'"),
        ("SELECT string_agg(song_name, ', ') AS names FROM songs", "string_agg"),
    ],
)
def test_duckdb_only_syntax_is_rejected(sql, problem):
    # Each of these runs on DuckDB, and all but QUALIFY and '//' parse as Trino in sqlglot.
    assert any(problem in found for found in engine_only_syntax(sql)), engine_only_syntax(sql)


def test_the_rejected_syntax_really_runs_on_duckdb(tmp_path):
    # So the check above guards against something a local run would not catch.
    with connect(tmp_path) as connection:
        for sql in (
            "SELECT duration_ms::DOUBLE FROM songs",
            "SELECT playlist, COUNT(*) AS n FROM songs GROUP BY ALL",
            "SELECT * EXCLUDE (url) FROM songs",
            "SELECT COUNT(*) / 2 AS half FROM songs",
        ):
            connection.sql(sql).fetchall()


def test_create_view_statements_parse_as_trino():
    for statement in catalog.create_view_statements():
        tree = sqlglot.parse_one(statement, read=TRINO)
        assert isinstance(tree, exp.Create)


def test_a_query_with_its_own_with_clause_gets_the_views_first():
    query = "WITH recent AS (SELECT * FROM top_artists WHERE rank = 1) SELECT * FROM recent"
    inlined = athena_query_text(query)
    tree = sqlglot.parse_one(inlined, read=TRINO)
    assert [cte.alias for cte in tree.find(exp.With).expressions] == ["top_artists", "recent"]
