"""``spotify-assets sql``: on the sample lake through DuckDB, and in aws mode the Athena query,
printed or run against moto's Athena (which returns the rows it is given, not computed ones)."""

import csv
import io
import json
import logging
import os
import urllib.request

import pytest
import sqlglot
from moto.server import ThreadedMotoServer

from spotify_assets import constants
from spotify_assets.cli import main
from spotify_assets.sources.sample_generator import (
    MAIN_PLAYLIST_ID,
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import (
    ENV_ATHENA_DATABASE,
    ENV_ATHENA_WORKGROUP,
    AthenaLake,
    AthenaSettings,
    athena_client,
    athena_query_text,
)
from spotify_assets.sql.duckdb_lake import DuckDBLake
from spotify_assets_tests.sql_lakes import sample_lake
from spotify_assets_tests.test_cli_names import SAMPLE_BY_NAME

LATEST_WEEK = SAMPLE_WEEKS[-1]


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory):
    return sample_lake(tmp_path_factory)


@pytest.fixture
def local_lake(lake_dir, monkeypatch):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(lake_dir))
    return lake_dir


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sql", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_names_every_view_in_alphabetical_order(local_lake, capsys):
    code, out, _ = run_cli(capsys, "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == sorted(catalog.views())
    assert out.splitlines()[0].startswith("album_types ")
    code, out, _ = run_cli(capsys, "--list", "--format", "json")
    assert [item["view"] for item in json.loads(out)] == sorted(catalog.views())


def test_top_artists_of_a_playlist_as_json(local_lake, capsys):
    code, out, err = run_cli(
        capsys,
        "top_artists",
        "--playlist",
        MAIN_PLAYLIST_ID,
        "--week",
        "latest",
        "--format",
        "json",
    )
    assert code == 0, err
    rows = json.loads(out)
    expected = DuckDBLake(local_lake).query(
        f"SELECT * FROM top_artists WHERE playlist = '{MAIN_PLAYLIST_ID}' "
        f"AND week = DATE '{LATEST_WEEK}' ORDER BY rank, artist_name, artist_id"
    )
    assert rows == expected.records()
    assert {row["week"] for row in rows} == {LATEST_WEEK}
    assert rows[0]["rank"] == 1 and rows[0]["tracks"] == max(row["tracks"] for row in rows)


def test_a_playlist_url_works_as_well_as_its_id(local_lake, capsys):
    url = f"https://open.spotify.com/playlist/{SMALL_PLAYLIST_ID}?si=abc"
    _, by_url, _ = run_cli(capsys, "weekly_summary", "--playlist", url, "--format", "csv")
    _, by_id, _ = run_cli(
        capsys, "weekly_summary", "--playlist", SMALL_PLAYLIST_ID, "--format", "csv"
    )
    assert by_url == by_id
    rows = list(csv.DictReader(io.StringIO(by_id)))
    assert [row["week"] for row in rows] == [
        week for index, week in enumerate(SAMPLE_WEEKS) if index != SMALL_EMPTY_WEEK
    ]
    assert [int(row["entries"]) for row in rows] == [8, 9, 7, 6, 8, 8, 9, 8, 10]
    assert rows[0]["added"] == ""  # null: the first snapshot has nothing to compare with


@pytest.mark.parametrize("name", list(catalog.views()))
def test_every_view_prints_a_table_for_the_main_playlist(local_lake, capsys, name):
    code, out, err = run_cli(capsys, name, "--playlist", MAIN_PLAYLIST_ID, "--limit", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[0] == "playlist"
    assert set(lines[1]) <= {"-", " "}
    assert lines[-1] == "(3 rows)"
    assert all(MAIN_PLAYLIST_ID in line for line in lines[2:-1])


def test_a_query_over_tables_and_views(local_lake, capsys):
    code, out, _ = run_cli(
        capsys,
        "--query",
        "SELECT COUNT(DISTINCT playlist) AS playlists, COUNT(*) AS snapshots FROM playlist_length",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [{"playlists": 5, "snapshots": 49}]  # one snapshot was empty


def test_mistakes_get_a_message_not_a_traceback(local_lake, capsys):
    code, out, err = run_cli(capsys, "top_artist")
    assert (code, out) == (2, "")
    assert err == (
        "error: no view named 'top_artist'; did you mean 'top_artists'? The views are: "
        + ", ".join(sorted(catalog.views()))
        + "\n"
    )
    code, _, err = run_cli(capsys, "nothing_like_it")
    assert code == 2 and err.startswith("error: no view named 'nothing_like_it'. The views are: ")
    code, _, err = run_cli(capsys, "--query", "SELECT nothing FROM songs")
    assert code == 1 and err.startswith("error:")
    with pytest.raises(SystemExit):
        run_cli(capsys, "top_artists", "--week", "last tuesday")


def test_a_playlist_not_in_the_lake_is_an_error_listing_the_lakes_playlists(local_lake, capsys):
    unknown = "5UoXmz9Ih7BMj3N8lyfB0X"  # one letter off the small playlist
    code, out, err = run_cli(capsys, "weekly_summary", "--playlist", unknown)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: no playlist '{unknown}' in the lake at {local_lake}",
        "the lake holds 5 playlists:",
        *(f"  {playlist_id}  {name}" for playlist_id, name in SAMPLE_BY_NAME),
    ]
    # A URL of it says the same about the id in it.
    url = f"https://open.spotify.com/playlist/{unknown}?si=x"
    assert run_cli(capsys, "top_artists", "--playlist", url)[2] == err


def test_a_configured_playlist_not_materialized_yet_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(tmp_path))
    code, out, err = run_cli(capsys, "weekly_summary", "--playlist", SMALL_PLAYLIST_ID)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: no playlist '{SMALL_PLAYLIST_ID}' in the lake at {tmp_path}",
        "it is configured (Sunday Morning), but none of its weeks is materialized yet "
        "(`spotify-assets playlists --partitions` lists its partition keys)",
        "the lake has no playlists yet: materialize some weeks first, one run per key of "
        "`spotify-assets playlists --partitions`",
    ]


def test_hours_are_printed_to_two_decimals(local_lake, capsys):
    code, out, _ = run_cli(
        capsys, "playlist_length", "--playlist", MAIN_PLAYLIST_ID, "--format", "json"
    )
    assert code == 0
    hours = [row["hours"] for row in json.loads(out)]
    assert hours and all(value == round(value, 2) for value in hours)
    assert any(value != round(value, 1) for value in hours)  # two decimals, not one


def test_an_empty_lake_prints_no_rows_and_says_why(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(tmp_path))
    code, out, err = run_cli(capsys, "weekly_summary")
    assert code == 0
    assert out.splitlines()[-1] == "(0 rows)"
    assert "no normalized tables yet" in err


def test_ddl_creates_every_view_in_order(local_lake, capsys):
    _, out, _ = run_cli(capsys, "--ddl")
    statements = [s for s in out.split(";\n") if s.strip()]
    assert len(statements) == len(catalog.views())
    for statement in statements:
        sqlglot.parse_one(statement, read="trino")
    created = [s.split()[4] for s in statements]
    assert created.index("weekly_summary") > created.index("weekly_changes")


# ------------------------------------------------------------------------------------------
# aws: Athena


def test_aws_mode_prints_the_athena_query(monkeypatch, capsys):
    monkeypatch.setenv(constants.ENV_DEPLOYMENT, "aws")
    code, out, err = run_cli(capsys, "weekly_summary", "--playlist", SMALL_PLAYLIST_ID)
    assert code == 0
    expected = catalog.view_query("weekly_summary", playlist=SMALL_PLAYLIST_ID)
    assert out == athena_query_text(expected) + ";\n"
    tree = sqlglot.parse_one(out.rstrip(";\n"), read="trino")
    top_level = [cte.alias for cte in tree.find(sqlglot.exp.With).expressions]
    assert top_level == [
        "artist_diversity",
        "snapshot_pairs",
        "playlist_length",
        "weekly_changes",
        "weekly_summary",
    ]
    assert "read_parquet" not in out and "add --run" in err


@pytest.fixture
def athena(monkeypatch):
    """moto's server on a free local port, and the aws environment pointed at it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for variable in list(os.environ):
        if variable.startswith("AWS_"):
            monkeypatch.delenv(variable)
    for variable, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        constants.ENV_DEPLOYMENT: "aws",
        constants.ENV_S3_BUCKET: "lake-bucket",
        constants.ENV_S3_PREFIX: "prod",
        ENV_ATHENA_DATABASE: "music",
        ENV_ATHENA_WORKGROUP: "analytics",
    }.items():
        monkeypatch.setenv(variable, value)
    client = athena_client()
    client.create_work_group(Name="analytics")
    yield endpoint, client
    server.stop()


def _queue_athena_result(endpoint: str, columns: list[tuple[str, str]], rows: list[list]):
    """What moto's Athena answers to the next query: a header row, then the rows, as text."""
    header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
    data = [
        {"Data": [{} if value is None else {"VarCharValue": str(value)} for value in row]}
        for row in rows
    ]
    body = json.dumps(
        {
            "region": "eu-west-1",
            "results": [
                {
                    "rows": [header, *data],
                    "column_info": [{"Name": name, "Type": kind} for name, kind in columns],
                }
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"{endpoint}/moto-api/static/athena/query-results",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()


def test_aws_mode_runs_the_query_on_athena_with_run(athena, capsys):
    endpoint, client = athena
    _queue_athena_result(
        endpoint,
        [("playlist", "varchar"), ("week", "date"), ("entries", "bigint"), ("hours", "double")],
        [[SMALL_PLAYLIST_ID, "2026-11-09", 10, 0.66], [SMALL_PLAYLIST_ID, "2026-11-02", 8, None]],
    )
    code, out, err = run_cli(
        capsys, "weekly_summary", "--playlist", SMALL_PLAYLIST_ID, "--run", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out) == [
        {"playlist": SMALL_PLAYLIST_ID, "week": "2026-11-09", "entries": 10, "hours": 0.66},
        {"playlist": SMALL_PLAYLIST_ID, "week": "2026-11-02", "entries": 8, "hours": None},
    ]
    [execution_id] = client.list_query_executions(WorkGroup="analytics")["QueryExecutionIds"]
    execution = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]
    expected = catalog.view_query("weekly_summary", playlist=SMALL_PLAYLIST_ID)
    assert execution["Query"] == athena_query_text(expected)
    assert execution["QueryExecutionContext"]["Database"] == "music"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith(
        "s3://lake-bucket/prod/athena-results/"
    )


def test_athena_settings_come_from_the_environment(monkeypatch):
    for variable in (ENV_ATHENA_DATABASE, ENV_ATHENA_WORKGROUP, constants.ENV_S3_PREFIX):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(constants.ENV_S3_BUCKET, "b")
    assert AthenaSettings.from_environment() == AthenaSettings(
        "spotify_assets", "primary", "s3://b/athena-results/"
    )


def test_a_failed_athena_query_says_why():
    class FailingClient:
        def start_query_execution(self, **request):
            return {"QueryExecutionId": "q1"}

        def get_query_execution(self, QueryExecutionId):
            reason = "TABLE_NOT_FOUND: Table 'spotify_assets.songs' does not exist"
            return {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": reason}}}

    lake = AthenaLake(AthenaSettings(), client=FailingClient(), poll_seconds=0)
    with pytest.raises(RuntimeError, match="q1 FAILED: TABLE_NOT_FOUND"):
        lake.query("SELECT * FROM songs")
