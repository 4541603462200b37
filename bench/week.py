"""A week on one machine: what the weekly schedule and the automation run for N playlists, as
separate processes two at a time (the local `dagster.yaml` allows two runs at once): one snapshot
run per playlist (`weekly_snapshot`'s assets: raw, normalized, serving), one summary run per
playlist, then one dashboard refresh. The playlists are generated (100 entries, 10% replaced a
week) and replayed; the week before is materialized first, untimed, so the timed week is a
typical one (a changed playlist, a store and a lake that hold its previous week).

Called by ``bench/run.py --only week``; ``python bench/week.py [playlists]`` prints the figures.
The seconds per playlist, times 1,000, is the README's projection for 1,000 playlists.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = 100
WEEKS = ["2026-11-02", "2026-11-09"]
RUNS_AT_ONCE = 2
SNAPSHOT = "group:raw or group:normalized or group:serving"
SUMMARY = "analytics/weekly_summary"


def _recordings(replay_dir: Path, playlists: int) -> list[str]:
    from spotify_assets.sources.sample_generator import churn, synthetic_playlist

    ids = [f"0BenchWeek{index:012d}" for index in range(playlists)]
    for index, playlist_id in enumerate(ids):
        document = synthetic_playlist(ENTRIES, seed=index, playlist_id=playlist_id)
        for number, week in enumerate(WEEKS):
            if number:
                document = churn(document, 0.1, seed=number)
            path = replay_dir / playlist_id / f"{week}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document, ensure_ascii=False))
    return ids


def _materialize(env: dict, selection: str, partition: str | None) -> None:
    command = [
        str(Path(sys.executable).parent / "dagster"),
        *["asset", "materialize", "-m", "spotify_assets.definitions", "--select", selection],
        *(["--partition", partition] if partition else []),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=env["DAGSTER_HOME"])
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")


def _runs(env: dict, selection: str, partitions: list[str]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(RUNS_AT_ONCE) as pool:
        list(pool.map(lambda key: _materialize(env, selection, key), partitions))
    return time.perf_counter() - start


def figures(playlists: int = 10) -> list[tuple]:
    """``(name, value, target, unit, comparison)``: the timed week's wall time by kind of run,
    and per playlist."""
    with tempfile.TemporaryDirectory(prefix="bench-week-") as folder:
        home = Path(folder) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("")
        ids = _recordings(Path(folder) / "replay", playlists)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))},
            "DAGSTER_HOME": str(home),
            "SPOTIFY_REPLAY_DIR": str(Path(folder) / "replay"),
            "SPOTIFY_ASSETS_DATA_DIR": str(Path(folder) / "data"),
            "PYTHONPATH": str(ROOT),
        }
        before, week = WEEKS
        # Dagster's SQLite storage is created by the first process that opens the instance: two
        # at once race (as `dg dev` never does, having created it before any run).
        _materialize(env, SNAPSHOT, f"{ids[0]}|{before}")
        _runs(env, SNAPSHOT, [f"{p}|{before}" for p in ids[1:]])
        _runs(env, SUMMARY, [f"{p}|{before}" for p in ids])
        snapshots = _runs(env, SNAPSHOT, [f"{p}|{week}" for p in ids])
        summaries = _runs(env, SUMMARY, [f"{p}|{week}" for p in ids])
        dashboard = _runs(env, "analytics/dashboard", [None])
    total = snapshots + summaries + dashboard
    label = f"a week of {playlists} playlists on one machine, {RUNS_AT_ONCE} runs at a time"
    return [
        (f"{label}: snapshot runs", snapshots, None, "s", "<="),
        (f"{label}: summary runs", summaries, None, "s", "<="),
        (f"{label}: the dashboard refresh", dashboard, None, "s", "<="),
        (f"{label}: per playlist", total / playlists, None, "s", "<="),
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for figure in figures(int(sys.argv[1]) if len(sys.argv) > 1 else 10):
        print(f"{figure[0]}: {figure[1]:.2f} {figure[3]}")
