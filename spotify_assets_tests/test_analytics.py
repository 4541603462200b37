"""The analytics assets: where they sit in the graph, the numbers they give the UI, and the
dashboard files they write through the object store, on the sample lake."""

import json
import shutil

import dagster as dg
import pytest
from upath import UPath

from spotify_assets import constants
from spotify_assets.assets.analytics import (
    ANALYTICS,
    DASHBOARD,
    WEEKLY_SUMMARY,
    analytics_sensor,
    dashboard,
    weekly_summary,
)
from spotify_assets.assets.normalized import normalized_key
from spotify_assets.definitions import defs
from spotify_assets.io_managers.object_store import ObjectStoreIOManager
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.replay import recorded_playlist_name
from spotify_assets.sources.sample_generator import (
    MAIN_PLAYLIST_ID,
    SAMPLE_PLAYLIST_IDS,
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import AthenaLake
from spotify_assets.sql.dashboard import dashboard_files
from spotify_assets.sql.duckdb_lake import DuckDBLake
from spotify_assets.sql.lake import lake_at
from spotify_assets.sql.result import QueryResult
from spotify_assets.transforms import schema
from spotify_assets.transforms.checks import lost_share
from spotify_assets.web.dashboard_files import VIEW_PAGE_ROWS
from spotify_assets_tests.conftest import local_resources, materialize, partition
from spotify_assets_tests.sql_lakes import sample_lake

WEEK = "2026-09-21"  # the small playlist lost two tracks this week


@pytest.fixture
def data_dir(tmp_path_factory, tmp_path):
    """A data dir of its own holding the sample lake's raw snapshots and normalized tables."""
    data_dir = tmp_path / "data"
    for folder in (f"{constants.RAW}/playlist_json", constants.NORMALIZED):
        shutil.copytree(sample_lake(tmp_path_factory) / folder, data_dir / folder)
    return data_dir


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    [event] = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key
    ]
    return event.metadata


def test_the_analytics_assets_come_after_the_normalized_tables():
    asset_graph = defs.resolve_asset_graph()
    for key in (WEEKLY_SUMMARY, DASHBOARD):
        node = asset_graph.get(key)
        assert node.group_name == ANALYTICS
        assert node.parent_keys and all(p.path[0] == constants.NORMALIZED for p in node.parent_keys)
        assert node.automation_condition is not None
    assert len(asset_graph.get(DASHBOARD).parent_keys) == len(constants.NORMALIZED_TABLES)
    # The summary: week x playlist like the lake. The dashboard: everything at once.
    summary_partitions = asset_graph.get(WEEKLY_SUMMARY).partitions_def
    assert summary_partitions == asset_graph.get(normalized_key(constants.SONGS)).partitions_def
    assert asset_graph.get(DASHBOARD).partitions_def is None
    # The weekly snapshot job stays within the week x playlist assets.
    job_keys = defs.resolve_job_def("weekly_snapshot").asset_layer.selected_asset_keys
    assert job_keys and not any(key.path[0] == ANALYTICS for key in job_keys)
    assert analytics_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def(analytics_sensor.name)


def _summary(data_dir, playlist: str, week: str) -> dict:
    result = materialize(
        [weekly_summary],
        partition_key=partition(playlist, week),
        resources=local_resources(data_dir),
    )
    return {key: value.value for key, value in _metadata(result, WEEKLY_SUMMARY).items()}


def test_weekly_summary_gives_the_playlists_numbers_for_the_week(data_dir):
    metadata = _summary(data_dir, SMALL_PLAYLIST_ID, WEEK)
    query = catalog.view_query("weekly_summary", week=WEEK, playlist=SMALL_PLAYLIST_ID)
    [row] = DuckDBLake(data_dir).query(query).records()
    for metric in ("entries", "hours", "added", "removed", "turnover", "distinct_artists"):
        assert metadata[metric] == pytest.approx(row[metric])
    assert (metadata["entries"], metadata["removed"]) == (7, 2)
    assert metadata["hours"] == round(metadata["hours"], 2) > 0
    # The UI's column list: every column of the stored row, typed and described.
    columns = metadata["dagster/column_schema"].columns
    assert [column.name for column in columns] == list(row) == schema.WEEKLY_SUMMARY.names
    assert all(column.description for column in columns)
    stored = (
        data_dir
        / ANALYTICS
        / "weekly_summary"
        / f"week={WEEK}"
        / f"playlist={SMALL_PLAYLIST_ID}"
        / "weekly_summary.json"
    )
    assert json.loads(stored.read_bytes()) == [row]


def test_weekly_summary_of_a_playlists_first_and_empty_weeks(data_dir):
    # No previous snapshot: no added, removed or turnover to plot, but the length is there.
    first = _summary(data_dir, MAIN_PLAYLIST_ID, SAMPLE_WEEKS[0])
    assert first["entries"] > 0
    assert "added" not in first
    # Typed from the schema, not from the values: a column of nulls is still a count.
    types = {column.name: column.type for column in first["dagster/column_schema"].columns}
    assert types["added"] == "int64" and types["hours"] == "double"
    emptied = _summary(data_dir, SMALL_PLAYLIST_ID, SAMPLE_WEEKS[SMALL_EMPTY_WEEK])
    assert (emptied["entries"], emptied["hours"]) == (0, 0.0)


def test_weekly_summary_points_to_the_dashboard_for_charts():
    # Dagster's Plots tab would draw every playlist|week key on one axis: the description
    # sends a reader to the dashboard, which charts each playlist over its weeks.
    description = defs.resolve_assets_def(WEEKLY_SUMMARY).specs_by_key[WEEKLY_SUMMARY].description
    assert "open the dashboard (`spotify-assets serve`)" in description
    assert "read them on one partition" in description
    assert "draws each number over the partitions" not in description


def test_dashboard_writes_one_small_file_per_view_and_playlist(data_dir):
    result = materialize([dashboard], resources=local_resources(data_dir))
    metadata = _metadata(result, DASHBOARD)
    folder = data_dir / "dashboard"
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    expected = sorted(
        [f"{p}/{v}.json" for p in SAMPLE_PLAYLIST_IDS for v in catalog.views()] + ["index.json"]
    )
    assert written == expected
    assert metadata["files_written"].value == len(expected)
    assert metadata["largest_file_bytes"].value < 64_000

    lake = DuckDBLake(data_dir)
    for name, view in catalog.views().items():
        document = json.loads((folder / SMALL_PLAYLIST_ID / f"{name}.json").read_bytes())
        rows = lake.query(catalog.view_query(name, playlist=SMALL_PLAYLIST_ID)).records()
        if view.dashboard == catalog.DASHBOARD_LATEST_WEEK:
            rows = [row for row in rows if row["week"] == SAMPLE_WEEKS[-1]]
        assert document["view"] == name and document["playlist"] == SMALL_PLAYLIST_ID
        assert document["rows"] == rows, name
    top = json.loads((folder / MAIN_PLAYLIST_ID / "top_artists.json").read_bytes())
    assert top["rows"] and {row["week"] for row in top["rows"]} == {SAMPLE_WEEKS[-1]}

    index = json.loads((folder / "index.json").read_bytes())
    assert [item["playlist"] for item in index["playlists"]] == sorted(SAMPLE_PLAYLIST_IDS)
    latest = {item["playlist"]: item["latest"] for item in index["playlists"]}
    assert latest[SMALL_PLAYLIST_ID]["week"] == SAMPLE_WEEKS[-1]
    assert latest[SMALL_PLAYLIST_ID]["entries"] == 10
    assert set(index["views"]) == set(catalog.views())
    # The names the read API shows, so that it never opens a raw snapshot.
    assert {item["playlist"]: (item["week"], item["name"]) for item in index["playlists"]} == {
        playlist: (SAMPLE_WEEKS[-1], recorded_playlist_name(SAMPLE_DATA_DIR, playlist))
        for playlist in SAMPLE_PLAYLIST_IDS
    }


def test_a_long_view_goes_in_files_of_a_thousand_rows():
    rows = [("0Long", f"song {n}") for n in range(2 * VIEW_PAGE_ROWS + 1)]
    files = dashboard_files({"tracks_ever": QueryResult(["playlist", "song_name"], rows)}, {})
    pages = ["0Long/tracks_ever.json", "0Long/tracks_ever.1000.json", "0Long/tracks_ever.2000.json"]
    assert sorted(files) == sorted([*pages, "index.json"])
    documents = [json.loads(files[page]) for page in pages]
    assert [(d["offset"], len(d["rows"]), d["total_rows"]) for d in documents] == [
        (0, 1000, 2001),
        (1000, 1000, 2001),
        (2000, 1, 2001),
    ]
    assert [row["song_name"] for d in documents for row in d["rows"]] == [r[1] for r in rows]


class CountingObjectStoreIOManager(ObjectStoreIOManager):
    """The local object store, recording every path read through it."""

    def __init__(self, base_path, reads: list):
        super().__init__(base_path=base_path)
        self.reads = reads

    def read_bytes(self, path) -> bytes:
        self.reads.append(str(path))
        return super().read_bytes(path)


def test_dashboard_reads_a_playlists_name_once_per_week(data_dir):
    reads: list[str] = []

    @dg.io_manager
    def counting_store(_):
        return CountingObjectStoreIOManager(UPath(data_dir), reads)

    resources = {**local_resources(data_dir), "object_store": counting_store}
    materialize([dashboard], resources=resources)
    index = str(data_dir / "dashboard" / "index.json")
    latest = data_dir / constants.RAW / "playlist_json" / f"week={SAMPLE_WEEKS[-1]}"
    snapshots = [str(latest / f"playlist={p}" / "playlist.json") for p in SAMPLE_PLAYLIST_IDS]
    assert sorted(reads) == sorted([index, *snapshots])
    # The same latest weeks: the names come from the index the first run wrote.
    reads.clear()
    materialize([dashboard], resources=resources)
    assert reads == [index]


def test_dashboard_files_are_the_same_bytes_every_time(data_dir):
    materialize([dashboard], resources=local_resources(data_dir))
    folder = data_dir / "dashboard"
    first = {p: p.read_bytes() for p in folder.rglob("*.json")}
    materialize([dashboard], resources=local_resources(data_dir))
    assert {p: p.read_bytes() for p in folder.rglob("*.json")} == first


class MemoryObjectStoreIOManager(ObjectStoreIOManager):
    """Stands in for the S3 flavour: the same root, but bytes go through these hooks only."""

    def __init__(self, base_path, written: dict):
        super().__init__(base_path=base_path)
        self.written = written

    def write_bytes(self, path, data: bytes, content_type: str) -> None:
        self.written[str(path)] = (data, content_type)

    def read_bytes(self, path) -> bytes:
        if str(path) not in self.written:
            raise FileNotFoundError(path)
        return self.written[str(path)][0]

    def make_directory(self, path) -> None:
        pass


def test_analytics_write_through_the_object_stores_hooks(data_dir):
    written: dict = {}

    @dg.io_manager
    def memory_store(_):
        return MemoryObjectStoreIOManager(UPath(data_dir), written)

    resources = {**local_resources(data_dir), "object_store": memory_store}
    materialize([dashboard], resources=resources)
    materialize(
        [weekly_summary], partition_key=partition(SMALL_PLAYLIST_ID, WEEK), resources=resources
    )
    assert not (data_dir / "dashboard").exists() and not (data_dir / ANALYTICS).exists()
    summary = (
        data_dir
        / ANALYTICS
        / "weekly_summary"
        / f"week={WEEK}"
        / f"playlist={SMALL_PLAYLIST_ID}"
        / "weekly_summary.json"
    )
    assert {str(data_dir / "dashboard" / "index.json"), str(summary)} <= set(written)
    assert {content_type for _, content_type in written.values()} == {"application/json"}


def test_the_engine_follows_the_object_store():
    assert isinstance(lake_at(UPath("/tmp/data")), DuckDBLake)
    assert isinstance(lake_at(UPath("s3://bucket/prefix")), AthenaLake)
    with pytest.raises(ValueError, match="no SQL engine"):
        lake_at(UPath("memory://somewhere"))


def test_dashboard_skips_a_playlist_id_that_is_not_a_path_segment(caplog):
    # A stray lake folder: no file outside the playlist's own, and the others carry on.
    rows = [("../escape", None), (SMALL_PLAYLIST_ID, None)]
    files = dashboard_files({"playlist_length": QueryResult(["playlist", "week"], rows)}, {})
    assert sorted(files) == sorted(["index.json", f"{SMALL_PLAYLIST_ID}/playlist_length.json"])
    assert "'../escape' is not a playlist id" in caplog.text


def _lost_tracks_check(data_dir, playlist: str, week: str) -> dg.AssetCheckEvaluation:
    result = materialize(
        [weekly_summary],
        partition_key=partition(playlist, week),
        resources=local_resources(data_dir),
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_a_week_losing_most_of_its_tracks_gets_a_warning(data_dir):
    emptied_week = SAMPLE_WEEKS[SMALL_EMPTY_WEEK]
    emptied = _lost_tracks_check(data_dir, SMALL_PLAYLIST_ID, emptied_week)
    assert (emptied.passed, emptied.severity) == (False, dg.AssetCheckSeverity.WARN)
    problems = emptied.metadata["problems"].value
    assert problems.startswith(f"playlist {SMALL_PLAYLIST_ID!r}, week {emptied_week}: ")
    assert "(100%, more than 50%)" in problems
    # A usual week (2 of 7 items replaced), a first week (nothing before) and the week after the
    # emptied one (it lost nothing more) pass.
    for week in (WEEK, SAMPLE_WEEKS[0], SAMPLE_WEEKS[SMALL_EMPTY_WEEK + 1]):
        assert _lost_tracks_check(data_dir, SMALL_PLAYLIST_ID, week).passed, week


def test_lost_share_is_removed_over_the_previous_snapshots_items():
    assert lost_share({"entries": 7, "added": 2, "removed": 2}) == 2 / 7
    assert lost_share({"entries": 0, "added": 0, "removed": 5}) == 1.0
    assert lost_share({"entries": 3, "added": None, "removed": None}) is None
    assert lost_share({"entries": 0, "added": 0, "removed": 0}) is None
