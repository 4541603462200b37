"""The benchmark suite: what the pipeline costs, measured on this machine in one run.

    python bench/run.py            # every figure, full sizes
    python bench/run.py --quick    # smaller inputs, about a minute on 2 cores
    python bench/run.py --json bench.json
    python bench/run.py --only analytics   # one section (normalize, spotify, serving, dagster,
                                           # overhead, analytics)

Every figure is printed against its target; ``--json`` writes them as objects with ``name``,
``value``, ``target`` and ``met``. Inputs are generated deterministically; nothing here reaches
the network. The process exits 1 when a target is missed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

# Dagster reads the playlists and the first week from the replay folder at import, so the
# folder the Dagster figures use is set before spotify_assets is imported (see main()).
BENCH_PLAYLIST = "0BenchMark52WeeksPlist"
BACKFILL_FIRST_WEEK = "2025-11-10"


@dataclass
class Figure:
    name: str
    value: float
    target: float | None  # None: reported, no target
    unit: str
    comparison: str = "<="  # how value must compare with target: "<=", ">=" or "=="

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return {
            "<=": self.value <= self.target,
            ">=": self.value >= self.target,
            "==": self.value == self.target,
        }[self.comparison]


def best_time(function: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs, in seconds: the one least disturbed by other work."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


# --- 1. normalize ----------------------------------------------------------------------------


def parse_normalize_write(raw: bytes, week: str) -> dict[str, bytes]:
    """What one partition does to a raw document: parse, normalize, flatten, encode the files;
    the bytes read once, through their typed view."""
    from spotify_assets.transforms import flatten_playlist, normalize_playlist
    from spotify_assets.transforms.decode import decode_playlist

    decoded = decode_playlist(raw)
    return encode_files(
        normalize_playlist(decoded, week=week), flatten_playlist(decoded, week=week)
    )


def normalize_write(playlist: dict, week: str) -> dict[str, bytes]:
    """The same from the document parsed by ``json``: the checked path, the only one before."""
    from spotify_assets.transforms import flatten_playlist, normalize_playlist

    return encode_files(
        normalize_playlist(playlist, week=week), flatten_playlist(playlist, week=week)
    )


def encode_files(tables: dict, csv_table) -> dict[str, bytes]:
    """The files of one partition: five Parquet tables (and the playlist's row) and the CSV."""
    from spotify_assets.io_managers.object_store import CSV, PARQUET, encode

    files = {table: encode(value, PARQUET) for table, value in tables.items()}
    files["playlist_csv"] = encode(csv_table, CSV)
    return files


def parse_normalize(raw: bytes, week: str) -> dict:
    """The tables of a raw document, its bytes read through their typed view."""
    from spotify_assets.transforms import normalize_playlist

    return normalize_playlist(raw, week=week)


def parse_normalize_checked(raw: bytes, week: str) -> dict:
    """The same as every partition made them before: ``json.loads``, then the checked path."""
    from spotify_assets.transforms import normalize_playlist

    return normalize_playlist(json.loads(raw), week=week)


def parse_json_normalize(raw: bytes, page_key: str):
    """The generic way: ``json.loads``, then pandas flattens every entry into one wide frame."""
    import pandas

    return pandas.json_normalize(json.loads(raw)[page_key]["items"])


PEAK_MEMORY_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[2])
from bench.run import normalize_write, parse_normalize_write, rss_kib
from spotify_assets.sources.sample_generator import synthetic_playlist
typed = sys.argv[3] == "typed"
# The baseline includes the libraries, lazy imports too: warm up on a tiny playlist first.
tiny = json.dumps(synthetic_playlist(10)).encode()
if typed:
    parse_normalize_write(tiny, "2026-11-09")
else:
    normalize_write(json.loads(tiny), "2026-11-09")
baseline = rss_kib("VmRSS")
with open(sys.argv[1], "rb") as file:
    if typed:  # the normalized asset holds the stored bytes while it reads them
        raw = file.read()
        parse_normalize_write(raw, "2026-11-09")
    else:  # before: the object store's IO manager parsed the bytes and dropped them
        normalize_write(json.loads(file.read()), "2026-11-09")
print(json.dumps({"baseline_kib": baseline, "peak_kib": rss_kib("VmHWM")}))
"""


def rss_kib(field: str) -> int:
    """A line of /proc/self/status in KiB: VmRSS now, VmHWM the peak so far."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_bytes(raw: bytes, path: str) -> int:
    """Peak RSS above the warmed-up interpreter's while one partition's files are written from
    ``raw``, in a fresh process: ``path`` is ``typed`` (now) or ``checked`` (before)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(raw)
        file.flush()
        measured = json.loads(
            subprocess.run(
                [sys.executable, "-c", PEAK_MEMORY_SCRIPT, file.name, str(ROOT), path],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    return (measured["peak_kib"] - measured["baseline_kib"]) * 1024


def bench_normalize(entries: int, repeat: int) -> list[Figure]:
    """Both shapes of a playlist of ``entries``: parse and normalize, then the whole write path,
    each against ``json.loads`` of the same bytes, before (``json.loads`` and the checked path)
    and now (the typed path), and against ``pandas.json_normalize``; then the peak memory."""
    figures = []
    for shape in ("items", "tracks"):
        figures += _bench_normalize_shape(entries, shape, repeat)
    return figures


def _bench_normalize_shape(entries: int, shape: str, repeat: int) -> list[Figure]:
    from spotify_assets.sources.sample_generator import synthetic_playlist

    week = "2026-11-09"
    playlist = synthetic_playlist(entries, seed=1, shape=shape)
    raw = json.dumps(playlist, ensure_ascii=False).encode()
    del playlist
    floor = best_time(lambda: json.loads(raw), repeat)
    pandas_time = best_time(lambda: parse_json_normalize(raw, shape), repeat)
    normalize_time = best_time(lambda: parse_normalize(raw, week), repeat)
    normalize_before = best_time(lambda: parse_normalize_checked(raw, week), repeat)
    write_time = best_time(lambda: parse_normalize_write(raw, week), repeat)
    write_before = best_time(lambda: normalize_write(json.loads(raw), week), repeat)
    peak = peak_memory_bytes(raw, "typed")
    peak_before = peak_memory_bytes(raw, "checked")
    files = parse_normalize_write(raw, week)
    parquet_bytes = sum(len(data) for table, data in files.items() if table != "playlist_csv")
    label = f"{entries:,} entries ({shape})"
    targeted = entries >= 10_000  # the targets are set for the large playlist; the rest is shown
    return [
        Figure(
            f"normalize {label}: parse + normalize / json.loads",
            normalize_time / floor,
            1.0 if targeted else None,
            "x",
        ),
        Figure(
            f"normalize {label}: the same before (json.loads + checked path) / json.loads",
            normalize_before / floor,
            None,
            "x",
        ),
        Figure(
            f"normalize {label}: parse + normalize / json.loads + pandas.json_normalize",
            normalize_time / pandas_time,
            None,
            "x",
        ),
        Figure(
            f"normalize {label}: + 5 Parquet + CSV / json.loads",
            write_time / floor,
            1.3 if targeted else None,
            "x",
        ),
        Figure(f"normalize {label}: the same before / json.loads", write_before / floor, None, "x"),
        Figure(
            f"normalize {label}: entries per second, files written",
            entries / write_time,
            None,
            "/s",
        ),
        Figure(
            f"normalize {label}: peak RSS above baseline / raw bytes",
            peak / len(raw),
            2.5 if targeted else None,
            "x",
        ),
        Figure(
            f"normalize {label}: the same before / raw bytes", peak_before / len(raw), None, "x"
        ),
        Figure(
            f"storage {label}: normalized Parquet bytes / raw JSON bytes",
            parquet_bytes / len(raw),
            0.15,
            "x",
        ),
    ]


# --- 2. Spotify requests ------------------------------------------------------------------------


def bench_spotify_requests(sizes: list[int]) -> list[Figure]:
    """Requests of a weekly run through the live source against a local server playing Spotify.

    The minimum for a changed playlist is 1 + ceil(max(0, N - embedded) / 50) pages, plus one
    ``fields=snapshot_id`` re-check after the last page when there was more than one page: the
    only way to notice a playlist reordered while it was paged (the reference asks for it)."""
    import math

    from spotify_assets.sources import StoredSnapshot
    from spotify_assets.sources.sample_generator import synthetic_playlist
    from spotify_assets.sources.spotify_api import PAGE_LIMIT, SpotifyPlaylistReader
    from spotify_assets_tests.fake_spotify import (
        CLIENT_ID,
        CLIENT_SECRET,
        REFRESH_TOKEN,
        FakeSpotify,
    )

    figures = []
    with FakeSpotify() as spotify:
        for entries in sizes:
            playlist = synthetic_playlist(entries, seed=2)
            spotify.add_playlist(playlist)
            embedded = playlist["items"]["limit"]
            pages = math.ceil(max(0, entries - embedded) / PAGE_LIMIT)
            cases = {
                "changed": (StoredSnapshot("2026-11-02", "older", lambda: {}), 1 + pages),
                "unchanged": (
                    StoredSnapshot("2026-11-02", playlist["snapshot_id"], lambda p=playlist: p),
                    1,
                ),
            }
            for case, (stored, minimum) in cases.items():
                reader = SpotifyPlaylistReader(
                    client_id=CLIENT_ID,
                    client_secret=CLIENT_SECRET,
                    refresh_token=REFRESH_TOKEN,
                    api_url=spotify.api_base_url,
                    accounts_url=spotify.accounts_base_url,
                )
                extraction = reader.read(playlist["id"], latest_week(), stored)
                recheck = 1 if case == "changed" and pages else 0
                figures.append(
                    Figure(
                        f"spotify {entries:,} entries, {case}: requests (minimum {minimum}"
                        + (" + 1 snapshot re-check)" if recheck else ")"),
                        extraction.request_count,
                        minimum + recheck,
                        "",
                        "==",
                    )
                )
    return figures


def latest_week() -> str:
    import datetime as dt

    from spotify_assets.sources.spotify_api import latest_completed_week

    return latest_completed_week(dt.datetime.now(dt.UTC))


# --- 3. The serving store ---------------------------------------------------------------------


def bench_serving(entries: int, with_dynamodb: bool) -> list[Figure]:
    """Entry edits of one playlist, and the sample's history in three orders (bench/serving.py)."""
    from bench.serving import bench_entry_edits, bench_order_independence

    found = bench_entry_edits(entries) + bench_order_independence(with_dynamodb)
    return [Figure(*figure) for figure in found]


# --- 5. Dagster --------------------------------------------------------------------------------


def write_backfill_recordings(replay_dir: Path, entries: int, weeks: int) -> list[str]:
    """A playlist recorded every week, 10% of its entries replaced each week."""
    import datetime as dt

    from spotify_assets.sources.sample_generator import churn, synthetic_playlist

    first = dt.date.fromisoformat(BACKFILL_FIRST_WEEK)
    week_keys = [(first + dt.timedelta(weeks=index)).isoformat() for index in range(weeks)]
    playlist = synthetic_playlist(entries, seed=5, playlist_id=BENCH_PLAYLIST)
    folder = replay_dir / BENCH_PLAYLIST
    folder.mkdir(parents=True)
    for index, week in enumerate(week_keys):
        if index:
            playlist = churn(playlist, 0.1, seed=index)
        (folder / f"{week}.json").write_text(json.dumps(playlist, ensure_ascii=False))
    return week_keys


def bench_dagster(replay_dir: Path, week_keys: list[str]) -> list[Figure]:
    import dagster as dg

    from spotify_assets import constants
    from spotify_assets.assets import all_assets
    from spotify_assets.io_managers.object_store import LocalObjectStore
    from spotify_assets.io_managers.serving import SQLiteServingIOManager
    from spotify_assets.sources import ReplaySource

    def partition(week: str) -> dg.MultiPartitionKey:
        return dg.MultiPartitionKey({constants.PLAYLIST: BENCH_PLAYLIST, constants.WEEK: week})

    figures = []
    with tempfile.TemporaryDirectory() as data_dir, dg.instance_for_test() as instance:
        # One job per selection, built once, as a code server holds them: each week is a run.
        layers = (constants.RAW, constants.NORMALIZED, constants.SERVING)
        raw = dg.AssetSelection.assets(dg.AssetKey([constants.RAW, "playlist_json"]))
        downstream = dg.AssetSelection.groups(constants.NORMALIZED, constants.SERVING)
        defs = dg.Definitions(
            assets=all_assets,
            jobs=[
                dg.define_asset_job("everything", dg.AssetSelection.groups(*layers)),
                dg.define_asset_job("raw", raw),
                dg.define_asset_job("downstream", downstream),
            ],
            resources={
                "playlist_source": ReplaySource(replay_dir=str(replay_dir)),
                "object_store": LocalObjectStore(data_dir=data_dir),
                "serving_store": SQLiteServingIOManager(
                    database_path=str(Path(data_dir) / constants.SQLITE_FILE_NAME)
                ),
            },
        )

        def materialize(job_name: str, week: str) -> None:
            job = defs.resolve_job_def(job_name)
            result = job.execute_in_process(partition_key=partition(week), instance=instance)
            assert result.success

        one_partition = best_time(lambda: materialize("everything", week_keys[-1]), 1)
        figures.append(
            Figure("dagster: raw to serving, one partition, one process", one_partition, 10.0, "s")
        )
        for week in week_keys:  # the raw layer is stored first; the backfill rebuilds from it
            materialize("raw", week)
        start = time.perf_counter()
        for week in week_keys:
            materialize("downstream", week)
        backfill = time.perf_counter() - start

    from spotify_assets.transforms import normalize_playlist

    pure = 0.0
    for week in week_keys:
        playlist = json.loads((replay_dir / BENCH_PLAYLIST / f"{week}.json").read_bytes())
        start = time.perf_counter()
        normalize_playlist(playlist, week=week)
        pure += time.perf_counter() - start
    name = f"dagster: {len(week_keys)}-week backfill of one playlist from stored raw"
    figures.append(Figure(name, backfill, 300.0 * len(week_keys) / 52, "s"))
    figures.append(Figure(f"{name}: time / pure normalize time", backfill / pure, None, "x"))
    return figures


# --- 6. analytics ----------------------------------------------------------------------------

LAKE_WEEKS = 52
LAKE_ENTRIES = 200  # per playlist-week; 10 replaced every week
# Tracks are drawn from a catalog this size: two playlists share a track in one pair of three,
# a week. From 20,000, nearly every pair would, which is what the rows that say what playlists
# share (and a refresh, which merges them into the other playlists' files) cost most with.
LAKE_CATALOG = 100_000


def lake_root(name: str) -> Path:
    """A fresh folder for a generated lake: in memory where possible, as writing tens of
    thousands of small files is bound by the file system."""
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=f"bench-lake-{name}-", dir=parent))


def write_lake(
    root: Path,
    playlists: int,
    weeks: int,
    entries: int = LAKE_ENTRIES,
    catalog_size: int = LAKE_CATALOG,
) -> int:
    """A generated lake of ``playlists`` x ``weeks`` partitions of every normalized table,
    written 50 playlists at a time so that memory stays flat. Returns the files written."""
    from spotify_assets_tests.sql_lakes import generate_lake

    files = 0
    for first in range(0, playlists, 50):
        files += generate_lake(
            root,
            playlists=min(50, playlists - first),
            weeks=weeks,
            entries=entries,
            catalog_size=catalog_size,
            seed=first + 1,
            first_playlist=first,
        )
    return files


def lake_playlist(index: int) -> str:
    return f"{index:022d}"  # as generate_lake names them


def lake_week(index: int) -> str:
    import datetime as dt

    return (dt.date(2025, 1, 6) + dt.timedelta(weeks=index)).isoformat()  # generate_lake's weeks


def local_store(root: Path):
    from upath import UPath

    from spotify_assets.io_managers.object_store import ObjectStoreIOManager

    return ObjectStoreIOManager(base_path=UPath(root))


def bench_summary(small: int, large: int, weeks: int, repeat: int) -> list[Figure]:
    """One partition's ``analytics/weekly_summary`` (what the asset computes, without Dagster's
    run around it) in a lake of ``small`` and of ``large`` playlists: it reads its own
    partitions, so the lake's size should not show."""
    from spotify_assets.assets.analytics import summary_of

    seconds = {}
    for playlists in (small, large):
        root = lake_root(f"{playlists}x{weeks}")
        try:
            write_lake(root, playlists, weeks)
            store = local_store(root)
            args = (store, lake_playlist(0), lake_week(weeks - 1))
            assert summary_of(*args).rows, "the summary found no row: it would time nothing"
            seconds[playlists] = best_time(lambda args=args: summary_of(*args), repeat)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    label = f"one partition's summary, {large:,} x {weeks} lake"
    return [
        Figure(
            f"analytics: one partition's summary, {small} x {weeks} lake", seconds[small], None, "s"
        ),
        Figure(f"analytics: {label}", seconds[large], None, "s"),
        Figure(
            f"analytics: {label} / {small} x {weeks} lake",
            seconds[large] / seconds[small],
            1.5,
            "x",
        ),
    ]


def bench_dashboard(playlists: int, weeks: int) -> list[Figure]:
    """``analytics/dashboard`` (without Dagster's run around it): a rebuild of every
    playlist's files, then the refresh after one playlist-week changes."""
    from spotify_assets import constants
    from spotify_assets.assets.analytics import write_dashboard

    root = lake_root(f"{playlists}x{weeks}")
    try:
        write_lake(root, playlists, weeks)
        store = local_store(root)
        start = time.perf_counter()
        write_dashboard(store, changed=None)
        rebuild = time.perf_counter() - start
        # The playlist's latest week changes: it becomes what the week before was.
        playlist, last, before = lake_playlist(0), lake_week(weeks - 1), lake_week(weeks - 2)
        for table in (root / constants.NORMALIZED).iterdir():
            changed = table / f"week={last}" / f"playlist={playlist}" / f"{table.name}.parquet"
            if changed.is_file():
                shutil.copyfile(
                    changed.parents[2] / f"week={before}" / changed.parent.name / changed.name,
                    changed,
                )
        start = time.perf_counter()
        update = write_dashboard(store, changed={(playlist, last)})
        refresh = time.perf_counter() - start
        assert not update.rebuilt and update.playlists == [playlist]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lake = f"{playlists} x {weeks} lake"
    return [
        Figure(f"analytics: dashboard rebuild, {lake}", rebuild, None, "s"),
        Figure(
            f"analytics: dashboard refresh after one playlist-week changes, {lake}",
            refresh,
            2.0,
            "s",
        ),
    ]


# --- the report ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = [
    "normalize",
    "spotify",
    "serving",
    "dagster",
    "overhead",
    "analytics",
    "rebuild",
    "cost",
    "week",
]


def print_report(figures: list[Figure]) -> None:
    width = max(len(figure.name) for figure in figures)
    print(f"{'figure':<{width}}  {'value':>12}  {'target':>10}  met")
    for figure in figures:
        target = "" if figure.target is None else f"{figure.comparison}{figure.target:g}"
        met = {True: "yes", False: "NO", None: "-"}[figure.met]
        print(f"{figure.name:<{width}}  {figure.value:>10.3f}{figure.unit:>2}  {target:>10}  {met}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, fewer repeats")
    parser.add_argument("--json", type=Path, help="write every figure to this file as JSON")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="only this section (repeatable)"
    )
    args = parser.parse_args(argv)
    sections = args.only or SECTIONS

    # --quick: the same figures on smaller inputs (the 52-week backfill becomes 8 weeks).
    backfill_weeks = 8 if args.quick else 52
    replay_dir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    week_keys = write_backfill_recordings(replay_dir, 200 if args.quick else 2_000, backfill_weeks)
    os.environ["SPOTIFY_REPLAY_DIR"] = str(replay_dir)
    os.environ.pop("SPOTIFY_PLAYLISTS", None)

    figures: list[Figure] = []
    sizes = [100, 2_000, 10_000]
    if "normalize" in sections:
        for entries in [1_000, 10_000]:
            figures += bench_normalize(entries, repeat=3 if args.quick else 7)
    if "spotify" in sections:
        figures += bench_spotify_requests(sizes)
    if "serving" in sections:
        # --quick: a 300-entry playlist, and the three orders on SQLite only.
        figures += bench_serving(300 if args.quick else 1_000, with_dynamodb=not args.quick)
    if "dagster" in sections:
        figures += bench_dagster(replay_dir, week_keys)
    if "overhead" in sections:
        from bench.overhead import figures as overhead_figures

        figures += overhead_figures(quick=args.quick)
    if "analytics" in sections:
        # --quick: 10 weeks, and 100 playlists (summary) or 50 (dashboard), for 1,000 and 200.
        weeks = 10 if args.quick else LAKE_WEEKS
        figures += bench_summary(1, 100 if args.quick else 1_000, weeks, repeat=5)
        figures += bench_dashboard(50 if args.quick else 200, weeks)
    if "rebuild" in sections:
        from bench.rebuild import figures as rebuild_figures

        figures += [Figure(*figure) for figure in rebuild_figures(quick=args.quick)]
    if "cost" in sections:
        # --quick: one playlist, and 20 weeks for the year.
        from bench.weekly_cost import after_a_year_figures, weekly_cost_figures

        found = weekly_cost_figures(playlists=1 if args.quick else 3)
        found += after_a_year_figures(weeks=20 if args.quick else 52)
        # The per-table breakdowns (JSON text) are for `python bench/weekly_cost.py`.
        figures += [Figure(*figure) for figure in found if not isinstance(figure[1], str)]
    if "week" in sections:
        from bench.week import figures as week_figures

        figures += [Figure(*figure) for figure in week_figures(4 if args.quick else 20)]

    print_report(figures)
    if args.json:
        records = [{**asdict(figure), "met": figure.met} for figure in figures]
        args.json.write_text(json.dumps(records, indent=2) + "\n")
    return 0 if all(figure.met is not False for figure in figures) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
