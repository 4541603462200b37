"""Each asset invoked on its own, with a built context, on the sample recordings."""

import json

import dagster as dg
import pyarrow as pa
import pytest

from spotify_assets import constants
from spotify_assets.assets import normalized_tables, playlist_csv, playlist_json, serving_assets
from spotify_assets.assets.normalized import CHECK_SPECS
from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import normalize_playlist, schema
from spotify_assets_tests.conftest import partition

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
    assert output.metadata["dagster/row_count"].value == output.value.num_rows


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
    events = list(normalized_tables(context, playlist=recording))
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
def test_serving_assets_pass_the_normalized_table_on(serving):
    table = normalize_playlist(_recording(), week=WEEK)[serving.key.path[-1]]
    output = serving(normalized=table)
    assert output.value is table
    assert output.metadata["dagster/row_count"].value == table.num_rows
    assert isinstance(output.value, pa.Table)
