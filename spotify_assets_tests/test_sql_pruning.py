"""A view reads only the partitions it needs, on a lake the size of a year of 50 playlists:
50 playlists x 52 weeks x 500 entries, written straight with pyarrow (Dagster would take
minutes). DuckDB's profile says how many files each scan opened."""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from spotify_assets.sql import catalog
from spotify_assets.sql.duckdb_lake import connect
from spotify_assets_tests.sql_lakes import generate_lake

PLAYLISTS, WEEKS, ENTRIES = 50, 52, 500
PLAYLIST = f"{7:022d}"
WEEK = "2025-06-02"  # the 22nd of the generated weeks

pytestmark = pytest.mark.lake_scale


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory):
    # Creating 10,400 small files is bound by the file system: about twice as fast in memory.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        root = Path(tempfile.mkdtemp(prefix="spotify-assets-lake-", dir=shm))
    else:
        root = tmp_path_factory.mktemp("big_lake")
    started = time.monotonic()
    files = generate_lake(
        root,
        playlists=PLAYLISTS,
        weeks=WEEKS,
        entries=ENTRIES,
        tables=("playlist_entries", "songs", "song_artists", "artists"),
    )
    print(f"generated {files} files in {time.monotonic() - started:.1f} s")
    assert files == 4 * PLAYLISTS * WEEKS
    yield root
    shutil.rmtree(root, ignore_errors=True)


def files_read(lake: Path, sql: str, tmp_path: Path) -> list[int]:
    """How many Parquet files each scan of ``sql`` opened, from DuckDB's JSON profile."""
    profile = tmp_path / "profile.json"
    with connect(lake, views=catalog.views_in(sql)) as connection:
        connection.execute("SET enable_profiling = 'json'")
        connection.execute(f"SET profiling_output = '{profile}'")
        connection.sql(sql).fetchall()
    counts = []

    def visit(operator: dict) -> None:
        info = operator.get("extra_info", {})
        if operator.get("type") == "TABLE_SCAN" and info.get("Function") == "READ_PARQUET":
            counts.append(int(info["Total Files Read"]))
        for child in operator.get("children", []):
            visit(child)

    for operator in json.loads(profile.read_text())["operator"]:
        visit(operator)
    assert counts, "no Parquet scan in the profile: the check would prove nothing"
    return counts


def test_one_playlist_and_week_reads_one_file_of_each_table(big_lake, tmp_path):
    # top_artists joins three tables on the partition columns and the ids: the filter on
    # the view reaches every one of them.
    query = catalog.view_query("top_artists", playlist=PLAYLIST, week=WEEK)
    assert files_read(big_lake, query, tmp_path) == [1, 1, 1]


def test_one_playlist_reads_only_its_own_weeks(big_lake, tmp_path):
    # Week-over-week views compare each week with the one before, so they read the weeks
    # of the playlist (a join may skip some), and nothing of the other 49 playlists.
    for name in ("weekly_changes", "tracks_ever"):
        counts = files_read(big_lake, catalog.view_query(name, playlist=PLAYLIST), tmp_path)
        assert max(counts) == WEEKS, (name, counts)


def test_the_latest_week_of_a_playlist_reads_only_that_playlist(big_lake, tmp_path):
    query = catalog.view_query("weekly_summary", playlist=PLAYLIST, week=catalog.LATEST)
    assert set(files_read(big_lake, query, tmp_path)) == {WEEKS}


def test_without_a_filter_every_file_is_read(big_lake, tmp_path):
    # The measurement itself works: the whole lake is the baseline.
    counts = files_read(big_lake, catalog.view_query("playlist_length"), tmp_path)
    assert counts == [PLAYLISTS * WEEKS]
