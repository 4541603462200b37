"""The first hour as a user lives it: a copy of the project as a clone has it, `dg dev` and
`spotify-assets serve` started from a shell (each in its own process group, stopped with the
test), and Dagster's GraphQL API to ask the UI what it shows."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from spotify_assets.deployment import PROJECT_ROOT


def fresh_clone(destination: Path) -> Path:
    """The repository's files as a clone has them: tracked and new ones, nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def background(command: str, cwd: Path, env: dict, log: Path, ready_url: str) -> Iterator[None]:
    """Runs ``command`` through bash until the block ends, once ``ready_url`` answers 200."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            ["bash", "-c", command],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command!r} exited with {process.returncode}: {log}")
            try:
                with urllib.request.urlopen(ready_url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command!r}: {ready_url} did not answer in 180 s")
            time.sleep(0.5)
        yield
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """Ctrl+C for the whole process group, as in a terminal; killed if it lingers."""
    for sig, grace in ((signal.SIGINT, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            # The group's other processes (the webserver, the daemon, code servers) go too.
            os.killpg(process.pid, signal.SIGKILL)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            continue
        return


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer
    return answer["data"]


def run_statuses(port: int) -> dict[str, str]:
    """Every run the UI lists: id -> status."""
    data = graphql(port, "{ runsOrError { ... on Runs { results { runId status } } } }")
    return {run["runId"]: run["status"] for run in data["runsOrError"]["results"]}


def partition_stats(port: int) -> dict[str, dict]:
    """Each partitioned asset's counts as the UI shows them: materialized, failed, in all."""
    data = graphql(
        port,
        "{ assetNodes { assetKey { path } partitionStats "
        "{ numMaterialized numPartitions numFailed numMaterializing } } }",
    )
    return {
        "/".join(node["assetKey"]["path"]): node["partitionStats"]
        for node in data["assetNodes"]
        if node["partitionStats"]
    }


def wait_for_runs_to_finish(port: int, timeout: float = 600) -> dict[str, str]:
    """The runs once none is queued or running (the sensor may still be adding some)."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = run_statuses(port)
        busy = [
            s for s in statuses.values() if s in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
        ]
        if not busy:
            return statuses
        assert time.monotonic() < deadline, f"runs still busy after {timeout} s: {busy}"
        time.sleep(2)
