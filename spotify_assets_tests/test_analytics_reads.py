"""What the analytics read: one playlist-week's summary reads its own files and those of its
playlist's previous snapshot, by name (DuckDB) or through filters partition projection prunes
on (Athena); the dashboard is refreshed per playlist, to the files a rebuild writes."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp
from upath import UPath

from spotify_assets import constants
from spotify_assets.assets.analytics import (
    DASHBOARD,
    SUMMARY_TABLE_OF_BOTH_WEEKS,
    SUMMARY_TABLES_OF_THIS_WEEK,
    WEEKLY_SUMMARY,
    dashboard,
    weekly_summary,
)
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_json
from spotify_assets.cli import main
from spotify_assets.io_managers.object_store import ObjectStoreIOManager
from spotify_assets.sources.sample_generator import (
    MAIN_PLAYLIST_ID,
    SAMPLE_PLAYLIST_IDS,
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.sql import catalog
from spotify_assets.sql.athena import athena_query_text
from spotify_assets.sql.dashboard import (
    DASHBOARD_FOLDER,
    every_playlist_views,
    own_playlist_views,
    rebuild_dashboard,
    refresh_dashboard,
)
from spotify_assets.sql.duckdb_lake import DuckDBLake, connect, partition_file
from spotify_assets.sql.lake_reads import previous_snapshot_week, summary_partitions
from spotify_assets.sql.result import QueryResult
from spotify_assets_tests.conftest import local_resources, materialize, partition
from spotify_assets_tests.sql_lakes import sample_lake

SUMMARY = "weekly_summary"
BOTH_WEEKS = [SUMMARY_TABLE_OF_BOTH_WEEKS.path[-1]]
THIS_WEEK = [key.path[-1] for key in SUMMARY_TABLES_OF_THIS_WEEK]
LAKE_FOLDERS = (f"{constants.RAW}/playlist_json", constants.NORMALIZED)


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory) -> Path:
    return sample_lake(tmp_path_factory)


@pytest.fixture
def data_dir(lake_dir, tmp_path) -> Path:
    """A data dir of its own holding the sample lake's raw snapshots and normalized tables."""
    data_dir = tmp_path / "data"
    for folder in LAKE_FOLDERS:
        shutil.copytree(lake_dir / folder, data_dir / folder)
    return data_dir


def _entries_in_week(data_dir: Path, playlist: str):
    def count(week: str) -> int | None:
        path = partition_file(data_dir, constants.PLAYLIST_ENTRIES, week, playlist)
        return pq.read_metadata(path).num_rows if path.is_file() else None

    return count


def _summary_metadata(data_dir: Path, playlist: str, week: str) -> dict:
    result = materialize(
        [weekly_summary],
        partition_key=partition(playlist, week),
        resources=local_resources(data_dir),
    )
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == WEEKLY_SUMMARY
    ]
    return {key: value.value for key, value in event.metadata.items()}


# --- one partition's summary ----------------------------------------------------------------


def test_a_summary_reads_only_its_own_weeks_files_and_its_previous_snapshots(data_dir):
    week, previous = SAMPLE_WEEKS[5], SAMPLE_WEEKS[4]
    query = catalog.view_query(SUMMARY, playlist=MAIN_PLAYLIST_ID, week=week)
    [expected] = DuckDBLake(data_dir).query(query).records()
    own = {partition_file(data_dir, t, week, MAIN_PLAYLIST_ID) for t in BOTH_WEEKS + THIS_WEEK}
    own |= {partition_file(data_dir, t, previous, MAIN_PLAYLIST_ID) for t in BOTH_WEEKS}
    # Every other file of the lake unreadable, of this playlist and of the others.
    broken = [p for p in (data_dir / constants.NORMALIZED).rglob("*.parquet") if p not in own]
    assert len(broken) > 200
    for path in broken:
        path.write_bytes(b"not a Parquet file")
    metadata = _summary_metadata(data_dir, MAIN_PLAYLIST_ID, week)
    for metric in ("entries", "hours", "added", "removed", "turnover", "distinct_artists"):
        assert metadata[metric] == pytest.approx(expected[metric]), metric
    stored = Path(str(metadata["path"]))
    assert json.loads(stored.read_bytes()) == [expected]
    # The control: a query over the whole lake does open those files.
    with pytest.raises(Exception, match="not a Parquet file|[Mm]agic|Parquet"):
        DuckDBLake(data_dir).query(query)


def test_a_summary_after_an_empty_week_compares_with_the_snapshot_before_it(data_dir):
    # As the whole-lake view does: an empty snapshot has no rows to compare with.
    refilled = SAMPLE_WEEKS[SMALL_EMPTY_WEEK + 1]
    metadata = _summary_metadata(data_dir, SMALL_PLAYLIST_ID, refilled)
    assert (metadata["added"], metadata["removed"], metadata["turnover"]) == (6, 7, 1.0)


def test_every_sample_summary_is_the_whole_lake_views_row(lake_dir):
    lake = DuckDBLake(lake_dir)
    whole = lake.query(catalog.view_query(SUMMARY)).records()
    by_partition = {(row["playlist"], row["week"]): row for row in whole}
    for playlist in SAMPLE_PLAYLIST_IDS:
        for week in SAMPLE_WEEKS:
            previous = previous_snapshot_week(
                _entries_in_week(lake_dir, playlist), week, SAMPLE_WEEKS[0]
            )
            partitions = summary_partitions(playlist, week, previous, BOTH_WEEKS, THIS_WEEK)
            query = catalog.view_query(SUMMARY, playlist=playlist, week=week)
            rows = lake.query(query, partitions).records()
            expected = by_partition.get((playlist, week))
            assert rows == ([expected] if expected else []), (playlist, week)


def test_the_summary_view_reads_only_the_tables_the_asset_declares():
    assert set(catalog.tables_in(catalog.view_query(SUMMARY))) == {*BOTH_WEEKS, *THIS_WEEK}


def test_the_previous_snapshot_is_the_newest_earlier_week_with_entries():
    counts = {"2026-09-07": 3, "2026-09-14": 0, "2026-09-28": 5}  # 09-21 never taken
    looked_at = []

    def entries(week):
        looked_at.append(week)
        return counts.get(week)

    assert previous_snapshot_week(entries, "2026-10-05", "2026-09-07") == "2026-09-28"
    assert looked_at == ["2026-09-28"]  # the week before, looked at once
    assert previous_snapshot_week(entries, "2026-09-28", "2026-09-07") == "2026-09-07"
    assert previous_snapshot_week(entries, "2026-09-07", "2026-09-07") is None


def _lake_ctes(tree: exp.Expression) -> dict[str, exp.CTE]:
    return {cte.alias: cte for cte in tree.find_all(exp.CTE) if cte.alias in catalog.LAKE_TABLES}


def test_on_athena_a_summary_filters_each_table_on_both_partition_columns():
    partitions = summary_partitions("x'y", "2026-11-09", "2026-11-02", BOTH_WEEKS, THIS_WEEK)
    query = catalog.view_query(SUMMARY, playlist="x'y", week="2026-11-09")
    text = athena_query_text(query, partitions, database="lake_db")
    tree = sqlglot.parse_one(text, read="trino")
    tables = _lake_ctes(tree)
    assert set(tables) == {*BOTH_WEEKS, *THIS_WEEK}
    for name, cte in tables.items():
        [source] = list(cte.this.find_all(exp.Table))
        assert (source.db, source.name) == ("lake_db", name)
        # Literals on both partition columns: what partition projection prunes on.
        where = cte.this.args["where"]
        [playlist] = [eq for eq in where.find_all(exp.EQ) if eq.this.name == "playlist"]
        assert playlist.expression.name == "x'y"
        [weeks] = list(where.find_all(exp.In))
        assert weeks.this.name == "week"
        assert len(weeks.expressions) == (2 if name in BOTH_WEEKS else 1)


def test_the_athena_text_of_some_partitions_gives_their_rows(lake_dir):
    # Run as DuckDB runs it, with the lake's tables in a schema of their own as in Glue.
    playlist, week = SMALL_PLAYLIST_ID, SAMPLE_WEEKS[SMALL_EMPTY_WEEK + 1]
    previous = SAMPLE_WEEKS[SMALL_EMPTY_WEEK - 1]
    cases = [
        (
            catalog.view_query(SUMMARY, playlist=playlist, week=week),
            summary_partitions(playlist, week, previous, BOTH_WEEKS, THIS_WEEK),
        ),
        (
            catalog.view_query("tracks_ever", playlist=playlist),
            {table: catalog.Partitions(playlist=playlist) for table in catalog.LAKE_TABLES},
        ),
        (
            catalog.view_query("playlist_overlap", week=SAMPLE_WEEKS[-1]),
            {table: catalog.Partitions(weeks=(SAMPLE_WEEKS[-1],)) for table in catalog.LAKE_TABLES},
        ),
    ]
    with connect(lake_dir) as connection:
        connection.execute("CREATE SCHEMA lake_db")
        for table in catalog.LAKE_TABLES:
            connection.execute(f"CREATE VIEW lake_db.{table} AS SELECT * FROM main.{table}")
        for query, partitions in cases:
            text = athena_query_text(query, partitions, database="lake_db")
            rows = QueryResult.from_arrow(connection.sql(text).to_arrow_table()).records()
            assert rows and rows == DuckDBLake(lake_dir).query(query).records(), query


# --- the dashboard, per playlist --------------------------------------------------------------


def test_only_what_playlists_share_reads_other_playlists():
    assert every_playlist_views() == ["playlist_overlap", "shared_tracks"]
    for name in every_playlist_views():
        assert catalog.view(name).dashboard == catalog.DASHBOARD_LATEST_WEEK


def test_a_playlists_own_views_over_its_own_partitions_are_its_whole_lake_rows(lake_dir):
    lake = DuckDBLake(lake_dir)
    for playlist in SAMPLE_PLAYLIST_IDS:
        queries = {
            name: catalog.view_query(name, playlist=playlist) for name in own_playlist_views()
        }
        partitions = {table: catalog.Partitions(playlist=playlist) for table in catalog.LAKE_TABLES}
        scoped = lake.query_many(queries, partitions)
        whole = lake.query_many(queries)
        for name in queries:
            assert scoped[name] == whole[name], (playlist, name)
    # What playlists share, over one week's partitions of every playlist.
    week = SAMPLE_WEEKS[-1]
    queries = {name: catalog.view_query(name, week=week) for name in every_playlist_views()}
    partitions = {table: catalog.Partitions(weeks=(week,)) for table in catalog.LAKE_TABLES}
    assert lake.query_many(queries, partitions) == lake.query_many(queries)


class Folder:
    """A data dir's files by their path under it, as the dashboard functions read them."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, relative_path: str) -> bytes | None:
        path = self.root / relative_path
        return path.read_bytes() if path.is_file() else None

    def write(self, files: dict[str, bytes]) -> None:
        for relative_path, data in files.items():
            (self.root / relative_path).parent.mkdir(parents=True, exist_ok=True)
            (self.root / relative_path).write_bytes(data)

    def dashboard(self) -> dict[str, bytes]:
        folder = self.root / DASHBOARD_FOLDER
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.json")}


def _copy_week(lake_dir: Path, data_dir: Path, week: str, playlists=SAMPLE_PLAYLIST_IDS) -> None:
    """Copies the week's raw snapshots and normalized tables of the ``playlists``."""
    assets = [lake_dir / LAKE_FOLDERS[0], *(lake_dir / constants.NORMALIZED).iterdir()]
    for asset in assets:
        for playlist in playlists:
            source = asset / f"week={week}" / f"playlist={playlist}"
            if source.is_dir():
                shutil.copytree(source, data_dir / source.relative_to(lake_dir))


def _rebuilt(lake_dir: Path, tmp_path: Path) -> dict[str, bytes]:
    """The dashboard a rebuild writes from the lake at ``lake_dir``, in a data dir of its own."""
    data_dir = tmp_path / "rebuilt"
    for folder in LAKE_FOLDERS:
        shutil.copytree(lake_dir / folder, data_dir / folder)
    rebuilt = Folder(data_dir)
    rebuilt.write(rebuild_dashboard(DuckDBLake(data_dir), rebuilt.read).files)
    return rebuilt.dashboard()


def test_a_refresh_rewrites_the_changed_playlists_files_and_updates_the_index(lake_dir, tmp_path):
    data_dir, last = tmp_path / "data", SAMPLE_WEEKS[-1]
    for week in SAMPLE_WEEKS[:-1]:
        _copy_week(lake_dir, data_dir, week)
    others = [p for p in SAMPLE_PLAYLIST_IDS if p != SMALL_PLAYLIST_ID]
    _copy_week(lake_dir, data_dir, last, others)
    folder = Folder(data_dir)
    folder.write(rebuild_dashboard(DuckDBLake(data_dir), folder.read).files)
    before = folder.dashboard()

    _copy_week(lake_dir, data_dir, last, [SMALL_PLAYLIST_ID])
    update = refresh_dashboard(DuckDBLake(data_dir), folder.read, {(SMALL_PLAYLIST_ID, last)})
    assert not update.rebuilt and update.playlists == [SMALL_PLAYLIST_ID]
    written = {path.removeprefix(f"{DASHBOARD_FOLDER}/") for path in update.files}
    mine = {path for path in written if path.startswith(f"{SMALL_PLAYLIST_ID}/")}
    assert mine == {f"{SMALL_PLAYLIST_ID}/{view}.json" for view in catalog.views()}
    # Besides its own files: the index, and what the others share with it this week, where
    # that changed.
    shared = {f"{p}/{view}.json" for p in others for view in every_playlist_views()}
    assert written - mine <= {"index.json"} | shared
    folder.write(update.files)
    after = folder.dashboard()
    assert all(after[path] != before[path] for path in written - mine - {"index.json"})
    index = json.loads(after["index.json"])
    small = next(e for e in index["playlists"] if e["playlist"] == SMALL_PLAYLIST_ID)
    assert small["week"] == last and small["latest"]["entries"] == 10
    assert after == _rebuilt(data_dir, tmp_path)


def _replace_partition(data_dir: Path, playlist: str, week: str, with_week: str) -> None:
    """The playlist's normalized tables of ``week`` become what they were in ``with_week``."""
    for table in (data_dir / constants.NORMALIZED).iterdir():
        source = table / f"week={with_week}" / f"playlist={playlist}"
        target = table / f"week={week}" / f"playlist={playlist}"
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


def test_refreshes_after_each_change_give_the_files_of_a_rebuild(lake_dir, tmp_path):
    data_dir = tmp_path / "data"
    folder = Folder(data_dir)
    spliced = set()
    for index, week in enumerate(SAMPLE_WEEKS):
        # Most weeks all at once, as a backfill; the last ones a playlist at a time, as the
        # weekly runs: what the others share with each is then merged into their files.
        one_at_a_time = index >= len(SAMPLE_WEEKS) - 2
        for group in [[p] for p in SAMPLE_PLAYLIST_IDS] if one_at_a_time else [SAMPLE_PLAYLIST_IDS]:
            _copy_week(lake_dir, data_dir, week, group)
            changed = {(playlist, week) for playlist in group}
            update = refresh_dashboard(DuckDBLake(data_dir), folder.read, changed)
            assert update.rebuilt == (index == 0)  # no index yet: a rebuild
            spliced |= {
                path
                for path in update.files
                if path.split("/")[1] not in group and path.split("/")[1] != "index.json"
            }
            folder.write(update.files)
    assert spliced  # the others' files of what they share with a playlist did change
    assert {Path(path).stem for path in spliced} <= set(every_playlist_views())
    # An older week changes, then the main playlist's latest week becomes its first one:
    # what it shares with the others changes, rows of theirs go.
    for playlist, week, with_week in [
        (MAIN_PLAYLIST_ID, SAMPLE_WEEKS[3], SAMPLE_WEEKS[2]),
        (MAIN_PLAYLIST_ID, SAMPLE_WEEKS[-1], SAMPLE_WEEKS[0]),
    ]:
        _replace_partition(data_dir, playlist, week, with_week)
        update = refresh_dashboard(DuckDBLake(data_dir), folder.read, {(playlist, week)})
        folder.write(update.files)
    assert folder.dashboard() == _rebuilt(data_dir, tmp_path)


class RecordingObjectStoreIOManager(ObjectStoreIOManager):
    """The local object store, recording the path of every file written through it."""

    def __init__(self, base_path, written: list):
        super().__init__(base_path=base_path)
        self.written = written

    def write_bytes(self, path, data: bytes, content_type: str) -> None:
        self.written.append(str(path))
        super().write_bytes(path, data, content_type)


def _dashboard_run(data_dir: Path, instance, written: list, rebuild: bool = False) -> dict:
    @dg.io_manager
    def recording_store(_):
        return RecordingObjectStoreIOManager(UPath(data_dir), written)

    written.clear()
    result = materialize(
        [dashboard],
        resources={**local_resources(data_dir), "object_store": recording_store},
        instance=instance,
        run_config={"ops": {"analytics__dashboard": {"config": {"rebuild": rebuild}}}},
    )
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == DASHBOARD
    ]
    return {key: value.value for key, value in event.metadata.items()}


def test_the_dashboard_asset_recomputes_the_playlists_changed_since_its_previous_run(
    tmp_path, instance
):
    data_dir = tmp_path / "data"
    lake = dg.Definitions(
        assets=[playlist_json, normalized_tables],
        jobs=[dg.define_asset_job("lake")],
        resources=local_resources(data_dir),
    ).resolve_job_def("lake")
    weeks = SAMPLE_WEEKS[:2]
    for playlist in (MAIN_PLAYLIST_ID, SMALL_PLAYLIST_ID):
        for week in weeks:
            assert lake.execute_in_process(
                partition_key=partition(playlist, week), instance=instance
            ).success
    written: list[str] = []
    first = _dashboard_run(data_dir, instance, written)
    assert first["rebuilt"] and first["playlists"] == 2 and first["lake_cursor"]

    # A re-run of one partition: that playlist alone is recomputed.
    assert lake.execute_in_process(
        partition_key=partition(SMALL_PLAYLIST_ID, weeks[0]), instance=instance
    ).success
    second = _dashboard_run(data_dir, instance, written)
    assert not second["rebuilt"] and second["playlists"] == 1
    assert second["lake_cursor"] > first["lake_cursor"]
    dashboard_dir = data_dir / DASHBOARD_FOLDER
    assert not [path for path in written if path.startswith(str(dashboard_dir / MAIN_PLAYLIST_ID))]
    assert {
        str(dashboard_dir / SMALL_PLAYLIST_ID / f"{v}.json") for v in own_playlist_views()
    } <= set(written)

    # Nothing changed since: only the index is written again.
    third = _dashboard_run(data_dir, instance, written)
    assert (third["rebuilt"], third["playlists"]) == (False, 0)
    assert written == [str(dashboard_dir / "index.json")]
    assert third["lake_cursor"] == second["lake_cursor"]
    # Asked for, a rebuild.
    assert _dashboard_run(data_dir, instance, written, rebuild=True)["rebuilt"]


def test_the_dashboard_command_rebuilds_every_playlists_files(
    data_dir, monkeypatch, capsys, tmp_path
):
    monkeypatch.delenv(constants.ENV_DEPLOYMENT, raising=False)
    monkeypatch.setenv(constants.ENV_DATA_DIR, str(data_dir))
    assert main(["dashboard"]) == 0
    files = Folder(data_dir).dashboard()
    assert len(files) == len(SAMPLE_PLAYLIST_IDS) * len(catalog.views()) + 1
    assert f"for {len(SAMPLE_PLAYLIST_IDS)} playlists" in capsys.readouterr().out
    assert files == _rebuilt(data_dir, tmp_path)
