"""Each asset invoked on its own, with a built context, on the sample recordings."""

import json

import dagster as dg
import pyarrow as pa
import pytest

from spotify_assets import constants
from spotify_assets.assets import normalized_tables, playlist_csv, playlist_json, serving_assets
from spotify_assets.assets.metadata import (
    COLUMN_SCHEMA,
    OWNERS,
    PARTITION_ROW_COUNT,
    glue_table_name,
    serving_store_kind,
    serving_table_name,
)
from spotify_assets.assets.normalized import CHECK_SPECS
from spotify_assets.definitions import defs
from spotify_assets.io_managers.serving import serving_schema
from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import normalize_playlist, schema
from spotify_assets_tests.conftest import local_resources, materialize, partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEK = SAMPLE_WEEKS[0]


def _recording(playlist_id: str = PLAYLIST, week: str = WEEK) -> dict:
    return json.loads((SAMPLE_DATA_DIR / playlist_id / f"{week}.json").read_bytes())


@pytest.fixture
def context():
    with dg.build_asset_context(partition_key=partition(PLAYLIST, WEEK)) as asset_context:
        yield asset_context


def test_playlist_json_returns_the_recording_with_its_metadata(context):
    output = playlist_json(context, playlist_source=ReplaySource())
    recording = _recording()
    assert output.value == recording
    metadata = {key: value.value for key, value in output.metadata.items()}
    assert metadata["playlist_name"] == recording["name"]
    assert metadata["snapshot_id"] == recording["snapshot_id"]
    assert metadata["entry_count"] == len(recording["items"]["items"]) == metadata["total"]
    assert metadata["source"].endswith(f"{PLAYLIST}/{WEEK}.json")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no recording at"),
        (b"{not json", "is not valid JSON"),
        (b'{"id": "x", "name": "no entries"}', "is not a playlist object"),
        (b"[1, 2]", "is not a playlist object"),
    ],
)
def test_playlist_json_fails_with_the_playlist_the_week_and_the_problem(
    context, replay_dir, content, problem
):
    recording = replay_dir / PLAYLIST / f"{WEEK}.json"
    if content is None:
        recording.unlink()
    else:
        recording.write_bytes(content)
    with pytest.raises(dg.Failure) as failure:
        playlist_json(context, playlist_source=ReplaySource(replay_dir=str(replay_dir)))
    message = failure.value.description
    assert f"playlist {PLAYLIST!r}, week {WEEK}" in message
    assert problem in message


def test_playlist_json_refuses_a_recording_of_another_playlist(context, replay_dir):
    other = _recording(SAMPLE_PLAYLIST_IDS[1])
    (replay_dir / PLAYLIST / f"{WEEK}.json").write_text(json.dumps(other))
    with pytest.raises(dg.Failure, match=f"holds playlist '{SAMPLE_PLAYLIST_IDS[1]}' instead"):
        playlist_json(context, playlist_source=ReplaySource(replay_dir=str(replay_dir)))


def test_playlist_csv_has_one_row_per_entry(context):
    recording = _recording()
    output = playlist_csv(context, playlist=recording)
    assert output.value.schema == schema.PLAYLIST_CSV
    assert output.value.column("position").to_pylist() == list(
        range(len(recording["items"]["items"]))
    )
    assert output.metadata["dagster/partition_row_count"].value == output.value.num_rows


def test_normalized_tables_yields_every_table_and_passing_checks(context):
    recording = _recording()
    events = list(normalized_tables(context, playlist=recording))
    outputs = {event.output_name: event.value for event in events if isinstance(event, dg.Output)}
    checks = [event for event in events if isinstance(event, dg.AssetCheckResult)]
    expected = normalize_playlist(recording, week=WEEK)
    assert outputs == {f"normalized__{name}": table for name, table in expected.items()}
    assert len(checks) == len(CHECK_SPECS)
    assert all(check.passed for check in checks)


def test_normalized_checks_fail_on_a_playlist_whose_total_disagrees(context):
    recording = _recording()
    recording["items"]["total"] += 3
    events = []
    with pytest.raises(dg.Failure, match="entries_match_playlist_total failed"):
        events.extend(normalized_tables(context, playlist=recording))
    assert not [e for e in events if isinstance(e, dg.Output)]  # nothing to write
    failed = [e for e in events if isinstance(e, dg.AssetCheckResult) and not e.passed]
    assert [(check.asset_key.path[-1], check.check_name) for check in failed] == [
        (constants.PLAYLIST_ENTRIES, "entries_match_playlist_total")
    ]
    entries = len(recording["items"]["items"])
    assert failed[0].metadata["problems"].value == (
        f"{entries} entries, but the playlist says total = {entries + 3}"
    )


def test_normalized_tables_fail_clearly_on_a_malformed_entry(context):
    recording = _recording()
    recording["items"]["items"][2]["item"]["artists"] = "not a list"
    with pytest.raises(
        dg.Failure, match=rf"playlist '{PLAYLIST}', week {WEEK}: entry at position 2"
    ):
        list(normalized_tables(context, playlist=recording))


@pytest.mark.parametrize("serving", serving_assets, ids=lambda a: a.key.to_user_string())
def test_serving_assets_pass_the_normalized_table_on(serving, context):
    table = normalize_playlist(_recording(), week=WEEK)[serving.key.path[-1]]
    output = serving(context, normalized=table)
    assert output.value is table
    assert output.metadata["dagster/partition_row_count"].value == table.num_rows
    assert isinstance(output.value, pa.Table)


# ------------------------------------------------------------------------------------------
# Column descriptions: every column of every table, in the definitions and in each
# materialization, from the schema module.

# The columns the UI lists for each table asset (the serving tables: what a reader gets).
TABLE_COLUMNS = {
    "raw/playlist_csv": schema.PLAYLIST_CSV.names,
    **{f"normalized/{t}": schema.TABLE_SCHEMAS[t].names for t in constants.NORMALIZED_TABLES},
    **{f"serving/{t}": serving_schema(t).names for t in constants.SERVING_TABLES},
    "analytics/weekly_summary": schema.WEEKLY_SUMMARY.names,
}
NOT_TABLES = {"raw/playlist_json", "analytics/dashboard"}


def described_columns(column_schema) -> dict[str, str | None]:
    """Column name -> description, from a TableSchema or its metadata value."""
    table_schema = getattr(column_schema, "schema", column_schema)
    return {column.name: column.description for column in table_schema.columns}


def test_every_column_of_every_table_is_described_in_the_schema_module():
    tables = {**schema.FILE_SCHEMAS, "weekly_summary": schema.WEEKLY_SUMMARY}
    assert set(schema.COLUMN_DESCRIPTIONS) == set(tables)
    for table, table_schema in tables.items():
        # No column without a description, and no description of a column that is gone.
        assert set(schema.column_descriptions(table)) >= set(table_schema.names), table
        assert set(schema.COLUMN_DESCRIPTIONS[table]) <= set(table_schema.names), table


def test_the_definitions_describe_every_column_before_any_materialization():
    asset_graph = defs.resolve_asset_graph()
    all_keys = {key.to_user_string() for key in asset_graph.get_all_asset_keys()}
    assert all_keys == set(TABLE_COLUMNS) | NOT_TABLES  # a new table gets its columns here
    for name, columns in TABLE_COLUMNS.items():
        key = dg.AssetKey.from_user_string(name)
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        described = described_columns(spec.metadata[COLUMN_SCHEMA])
        assert list(described) == list(columns), name
        assert all(description and description.strip() for description in described.values())
    entries = dg.AssetKey(["serving", constants.PLAYLIST_ENTRIES])
    spec = defs.resolve_assets_def(entries).specs_by_key[entries]
    [playlist_id] = [c for c in spec.metadata[COLUMN_SCHEMA].columns if c.name == "playlist_id"]
    assert playlist_id.constraints.nullable is False
    assert playlist_id.description.startswith("The playlist's Spotify id")


def _assert_described(metadata: dict, columns: list[str]) -> None:
    described = described_columns(metadata[COLUMN_SCHEMA])
    assert list(described) == list(columns)
    assert all(description and description.strip() for description in described.values())


def test_every_materialization_describes_every_column(context):
    recording = _recording()
    csv_output = playlist_csv(context, playlist=recording)
    _assert_described(csv_output.metadata, TABLE_COLUMNS["raw/playlist_csv"])
    events = list(normalized_tables(context, playlist=recording))
    outputs = {
        e.output_name.removeprefix("normalized__"): e for e in events if isinstance(e, dg.Output)
    }
    assert set(outputs) == set(constants.NORMALIZED_TABLES)
    for table, output in outputs.items():
        _assert_described(output.metadata, TABLE_COLUMNS[f"normalized/{table}"])
    for serving in serving_assets:
        table = serving.key.path[-1]
        output = serving(context, normalized=outputs[table].value)
        _assert_described(output.metadata, TABLE_COLUMNS[f"serving/{table}"])
    # What the UI shows beside a column: its type, whether it may be null, what it holds.
    columns = outputs[constants.SONGS].metadata[COLUMN_SCHEMA].schema.columns
    [popularity] = [column for column in columns if column.name == "popularity"]
    assert popularity.type == "int64" and popularity.constraints.nullable is True
    assert popularity.description == schema.SONGS_DESCRIPTIONS["popularity"]


# ------------------------------------------------------------------------------------------
# Which failures Dagster may retry: a recording that is missing or broken stays so.


def test_playlist_json_failures_of_a_recording_are_not_retried(context, replay_dir):
    (replay_dir / PLAYLIST / f"{WEEK}.json").unlink()
    with pytest.raises(dg.Failure) as failure:
        playlist_json(context, playlist_source=ReplaySource(replay_dir=str(replay_dir)))
    assert failure.value.allow_retries is False


# ------------------------------------------------------------------------------------------
# Dagster's metadata conventions: kinds and owners on every asset, per-partition row counts,
# the file's URI, and the table a reader queries (Glue, DynamoDB) where the deployment has one.


def test_every_asset_has_kinds_and_owners():
    asset_graph = defs.resolve_asset_graph()
    for key in asset_graph.get_all_asset_keys():
        node = asset_graph.get(key)
        assert node.kinds, key
        assert list(node.owners) == OWNERS, key
    serving_kinds = {asset_graph.get(serving.key).kinds == {"sqlite"} for serving in serving_assets}
    assert serving_kinds == {True}  # the local deployment's serving store


def test_each_partition_reports_its_rows_and_the_uri_of_its_file(data_dir, instance):
    result = materialize(
        [playlist_json, normalized_tables],
        partition_key=partition(PLAYLIST, WEEK),
        resources=local_resources(data_dir),
        instance=instance,
    )
    tables = normalize_playlist(_recording(), week=WEEK)
    materializations = {
        m.asset_key.to_user_string(): m.metadata for m in result.get_asset_materialization_events()
        for m in [m.step_materialization_data.materialization]
    }  # fmt: skip
    for table, rows in tables.items():
        metadata = materializations[f"normalized/{table}"]
        assert metadata[PARTITION_ROW_COUNT].value == rows.num_rows, table
        path = data_dir / "normalized" / table / f"week={WEEK}" / f"playlist={PLAYLIST}"
        assert metadata["dagster/uri"].value == f"file://{path}/{table}.parquet", table
    assert materializations["normalized/playlists"][PARTITION_ROW_COUNT].value == 1
    raw = materializations["raw/playlist_json"]["dagster/uri"].value
    assert raw.startswith("file://") and raw.endswith(f"playlist={PLAYLIST}/playlist.json")


def test_the_aws_deployment_names_the_glue_and_dynamodb_tables(monkeypatch):
    for name in (constants.ENV_DEPLOYMENT, "DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT"):
        monkeypatch.delenv(name, raising=False)
    assert (glue_table_name("songs"), serving_table_name("songs")) == (None, None)
    monkeypatch.setenv(constants.ENV_DEPLOYMENT, "aws")
    monkeypatch.setenv(constants.ENV_DYNAMODB_TABLE_PREFIX, "music_")
    monkeypatch.delenv("SPOTIFY_ASSETS_ATHENA_DATABASE", raising=False)
    assert glue_table_name("songs") == "spotify_assets.songs"
    assert serving_table_name("songs") == "music_songs"
    assert serving_store_kind() == "dynamodb"
    monkeypatch.setenv("SPOTIFY_ASSETS_ATHENA_DATABASE", "music_lake")
    assert glue_table_name("playlists") == "music_lake.playlists"
    # A branch's lake is outside the Glue tables' folders; its DynamoDB tables are its own.
    monkeypatch.setenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", "1")
    monkeypatch.setenv("DAGSTER_CLOUD_PULL_REQUEST_ID", "7")
    assert glue_table_name("songs") is None
    assert serving_table_name("songs") == "branch-pr-7-music_songs"
