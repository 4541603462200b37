"""Rebuilding history from stored raw (after a transform change): the normalized tables, the CSV,
the serving store and the weekly summaries of every partition, as Dagster runs. Grouped: the runs
Dagster's backfill builds from the assets' backfill policy (the run-request builder the backfill
daemon uses, in the two waves the daemon launches: the summaries wait for the tables they read).
One run per partition: what the same rebuild costs without the policy.

Each run is ``execute_in_process`` against a SQLite instance, so a run's start-up (the plan, the
resources, the event log) counts the same on both sides; a run launcher that starts a process per
run adds a few seconds more to each run, which favours grouping further.

Cases: the sample (5 playlists x 10 weeks, raw materialized through Dagster first) and a generated
lake (50 playlists x 52 weeks of 100-entry playlists, 10% churn a week, raw stored as the raw
asset stores it). One run per partition is timed on the first ``PER_PARTITION_SUBSET`` partitions
of the generated lake and extrapolated (2,600 runs take over an hour on two cores).

Called by ``bench/run.py`` (:func:`figures`); ``python bench/rebuild.py [--quick]`` prints them.
Each case runs in a child process of its own: the week partitions come from the replay folder
when the package is imported.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATED_FIRST_WEEK = "2025-01-06"
GENERATED_ENTRIES = 100
PER_PARTITION_SUBSET = 52


def figures(quick: bool = False) -> list[tuple]:
    """``(name, value, target, unit, comparison)`` for the sample's rebuild and the generated
    lake's (``quick``: 10 playlists x 13 weeks instead of 50 x 52)."""
    found = _case("sample", playlists=5, weeks=10)
    if quick:
        found += _case("generated", playlists=10, weeks=13, subset=13)
    else:
        found += _case("generated", playlists=50, weeks=52, subset=PER_PARTITION_SUBSET)
    return [tuple(figure) for figure in found]


def _case(case: str, playlists: int, weeks: int, subset: int | None = None) -> list[list]:
    with tempfile.TemporaryDirectory(prefix=f"bench-rebuild-{case}-") as folder:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("SPOTIFY_PLAYLISTS", None)
        env.pop("DAGSTER_HOME", None)
        if case == "generated":
            env["SPOTIFY_REPLAY_DIR"] = str(Path(folder) / "replay")
            _write_generated_recordings(Path(folder), playlists, weeks)
        else:
            env.pop("SPOTIFY_REPLAY_DIR", None)
        args = [sys.executable, __file__, "--child", case, folder, str(playlists), str(weeks)]
        if subset:
            args.append(str(subset))
        output = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
        return json.loads(output.stdout.strip().splitlines()[-1])


def _write_generated_recordings(folder: Path, playlists: int, weeks: int) -> None:
    """The generated playlists' documents as the raw asset stores them, under ``folder/data``;
    and, for the definitions' playlists and weeks, their first and last week as recordings
    under ``folder/replay``."""
    import datetime as dt

    from spotify_assets.io_managers.object_store import JSON, encode, partition_path
    from spotify_assets.sources.sample_generator import churn, synthetic_playlist

    first = dt.date.fromisoformat(GENERATED_FIRST_WEEK)
    week_keys = [(first + dt.timedelta(weeks=n)).isoformat() for n in range(weeks)]
    raw_folder = folder / "data" / "raw" / "playlist_json"
    for index in range(playlists):
        playlist_id = f"0BenchRebuild{index:09d}"
        document = synthetic_playlist(GENERATED_ENTRIES, seed=index, playlist_id=playlist_id)
        for number, week in enumerate(week_keys):
            if number:
                document = churn(document, 0.1, seed=number)
            path = partition_path(raw_folder, "playlist_json", JSON, playlist_id, week)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode(document, JSON))
            if number in (0, weeks - 1):
                recording = folder / "replay" / playlist_id / f"{week}.json"
                recording.parent.mkdir(parents=True, exist_ok=True)
                recording.write_bytes(encode(document, JSON))


# --- in the child process ---------------------------------------------------------------------


def _child(case: str, folder: Path, playlists: int, weeks: int, subset: int | None) -> list[list]:
    import logging
    import warnings

    import dagster as dg
    from dagster._core.definitions.automation_tick_evaluation_context import (
        build_run_requests_with_backfill_policies,
    )
    from dagster._core.definitions.events import AssetKeyPartitionKey
    from dagster._core.definitions.partitions.context import partition_loading_context

    from spotify_assets import constants
    from spotify_assets.assets import all_assets
    from spotify_assets.assets.analytics import WEEKLY_SUMMARY
    from spotify_assets.assets.raw import PLAYLIST_JSON
    from spotify_assets.deployment import configured_playlist_ids
    from spotify_assets.io_managers.object_store import LocalObjectStore
    from spotify_assets.io_managers.serving import SQLiteServingIOManager
    from spotify_assets.partitions import week_playlist_partitions
    from spotify_assets.playlist_partitions import add_playlists
    from spotify_assets.sources import SAMPLE_DATA_DIR, ReplaySource

    warnings.simplefilter("ignore")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    playlist_ids = configured_playlist_ids()[:playlists]
    week_keys = week_playlist_partitions.get_partitions_def_for_dimension(
        constants.WEEK
    ).get_partition_keys()[:weeks]
    partition_keys = [
        dg.MultiPartitionKey({constants.PLAYLIST: playlist_id, constants.WEEK: week})
        for playlist_id in playlist_ids
        for week in week_keys
    ]
    tables_and_serving = dg.AssetSelection.groups(
        constants.NORMALIZED, constants.SERVING
    ) | dg.AssetSelection.assets(dg.AssetKey([constants.RAW, "playlist_csv"]))
    summaries = dg.AssetSelection.assets(WEEKLY_SUMMARY)
    rebuild = tables_and_serving | summaries
    figures = []

    def fresh_definitions(data_dir: Path) -> dg.Definitions:
        return dg.Definitions(
            assets=all_assets,
            jobs=[
                dg.define_asset_job("raw", dg.AssetSelection.assets(PLAYLIST_JSON)),
                dg.define_asset_job("rebuild", rebuild),
            ],
            resources={
                "playlist_source": ReplaySource(
                    replay_dir=os.environ.get("SPOTIFY_REPLAY_DIR", str(SAMPLE_DATA_DIR))
                ),
                "object_store": LocalObjectStore(data_dir=str(data_dir)),
                "serving_store": SQLiteServingIOManager(
                    database_path=str(data_dir / constants.SQLITE_FILE_NAME)
                ),
            },
            executor=dg.in_process_executor,
        )

    def run(defs, instance, **kwargs) -> None:
        result = defs.resolve_job_def(kwargs.pop("job")).execute_in_process(
            instance=instance, raise_on_error=True, **kwargs
        )
        assert result.success

    def one_run_per_partition(defs, instance, keys) -> float:
        start = time.perf_counter()
        for key in keys:
            run(defs, instance, job="rebuild", partition_key=key)
        return time.perf_counter() - start

    def grouped_runs(defs, instance, keys) -> tuple[int, float]:
        """The runs the backfill daemon launches: the tables and the serving store first, then
        the summaries (they read the previous week's entries, so Dagster waits for them)."""
        asset_graph = defs.resolve_asset_graph()
        launched, start = 0, time.perf_counter()
        for wave in (tables_and_serving, summaries):
            # As the daemon calls it: with the instance that holds the playlist partitions.
            with partition_loading_context(dynamic_partitions_store=instance):
                requests = build_run_requests_with_backfill_policies(
                    asset_partitions={
                        AssetKeyPartitionKey(asset_key, key)
                        for asset_key in wave.resolve(asset_graph)
                        for key in keys
                    },
                    asset_graph=asset_graph,
                    dynamic_partitions_store=instance,
                )
            for request in requests:
                run(
                    defs,
                    instance,
                    job="rebuild",
                    tags=request.tags,
                    asset_selection=list(request.asset_selection),
                )
            launched += len(requests)
        return launched, time.perf_counter() - start

    label = f"rebuild {case} {len(playlist_ids)} x {len(week_keys)} from stored raw"
    per_partition_keys = partition_keys[:subset] if subset else partition_keys
    stored = folder / "data"
    if case == "sample":  # raw through Dagster, once, untimed
        with dg.instance_for_test() as instance:
            add_playlists(instance, playlist_ids)
            defs = fresh_definitions(stored)
            for key in partition_keys:
                run(defs, instance, job="raw", partition_key=key)
    timings = {}
    for mode in ("grouped", "per partition"):
        # Each from the same stored raw (linked, not copied) into an empty lake and store.
        data_dir = folder / mode.replace(" ", "_")
        shutil.copytree(stored / constants.RAW, data_dir / constants.RAW, copy_function=os.link)
        with dg.instance_for_test() as instance:
            add_playlists(instance, playlist_ids)
            defs = fresh_definitions(data_dir)
            if mode == "grouped":
                timings[mode] = grouped_runs(defs, instance, partition_keys)
            else:
                seconds = one_run_per_partition(defs, instance, per_partition_keys)
                timings[mode] = (
                    len(partition_keys),
                    seconds * len(partition_keys) / len(per_partition_keys),
                )
    (grouped_count, grouped_seconds), (single_count, single_seconds) = (
        timings["grouped"],
        timings["per partition"],
    )
    extrapolated = (
        f" (timed on {len(per_partition_keys)}, extrapolated)"
        if len(per_partition_keys) < len(partition_keys)
        else ""
    )
    figures += [
        [f"{label}: runs, grouped", grouped_count, None, "", "<="],
        [f"{label}: runs, one per partition", single_count, None, "", "<="],
        [f"{label}: wall time, grouped", grouped_seconds, None, "s", "<="],
        [
            f"{label}: wall time, one run per partition{extrapolated}",
            single_seconds,
            None,
            "s",
            "<=",
        ],
        [
            f"{label}: speed-up, grouped vs one run per partition",
            single_seconds / grouped_seconds,
            None,
            "x",
            "<=",
        ],
    ]
    return figures


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--child":
        case, folder, playlists, weeks, *subset = argv[1:]
        found = _child(
            case, Path(folder), int(playlists), int(weeks), int(subset[0]) if subset else None
        )
        print(json.dumps(found))
        return 0
    for name, value, target, unit, comparison in figures(quick="--quick" in argv):
        shown = "" if target is None else f"  (target {comparison}{target:g})"
        print(f"{name}: {value:.3f}{unit}{shown}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
