"""The failure alert, delivered to a real HTTP receiver on 127.0.0.1: a run that fails, a run
stopped by a failed blocking check, alerts off when the variable is unset, and the webhook's
URL (a secret) in no log line and no error."""

import http.server
import json
import threading

import dagster as dg
import pytest

from spotify_assets import constants
from spotify_assets.alerts import (
    CHECK_FAILED,
    ENV_ALERT_WEBHOOK_URL,
    RUN_FAILED,
    AlertNotSent,
    alert_on_failure,
    post_alert,
    run_partition,
)
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_json
from spotify_assets.io_managers.object_store import JSON, partition_path, strict_json
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import SMALL_PLAYLIST_ID
from spotify_assets_tests.conftest import local_resources, materialize, partition

WEEK = "2026-09-07"
# A webhook's path is its key: it must reach no log and no error message.
SECRET_PATH = "/hooks/T000/B000/not-for-the-logs"


class Receiver(http.server.ThreadingHTTPServer):
    """Records every request's path and JSON body; answers ``status``."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.received: list[tuple[str, dict]] = []
        self.status = 204

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{SECRET_PATH}"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, format, *args):
        pass  # the test's output stays quiet


@pytest.fixture
def receiver(monkeypatch):
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(ENV_ALERT_WEBHOOK_URL, server.url)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def failed_run(instance, data_dir, replay_dir, selection=None) -> dg.ExecuteInProcessResult:
    result = materialize(
        [playlist_json, normalized_tables],
        selection=selection,
        partition_key=partition(SMALL_PLAYLIST_ID, WEEK),
        resources=local_resources(data_dir, replay_dir),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    return result


def evaluate_sensor(instance, result: dg.ExecuteInProcessResult):
    context = dg.build_run_status_sensor_context(
        sensor_name=alert_on_failure.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    return alert_on_failure(context)


def test_a_failed_run_reaches_the_receiver(receiver, instance, data_dir, replay_dir, capfd):
    (replay_dir / SMALL_PLAYLIST_ID / f"{WEEK}.json").unlink()
    result = failed_run(instance, data_dir, replay_dir)
    capfd.readouterr()
    evaluate_sensor(instance, result)
    # The sensor's log goes to the console (and, in a deployment, to the sensor's tick).
    sensor_log = capfd.readouterr().err
    [(path, message)] = receiver.received
    assert path == SECRET_PATH
    assert message["kind"] == RUN_FAILED
    assert message["run_id"] == result.run_id
    assert message["partition"] == f"{SMALL_PLAYLIST_ID}|{WEEK}"
    assert message["failed_checks"] == []
    [(step, error)] = message["step_errors"].items()
    assert step == "raw__playlist_json"
    assert error.startswith(f"playlist '{SMALL_PLAYLIST_ID}', week {WEEK}: ")
    assert "no recording at" in error
    assert message["text"].startswith(f"spotify_assets: run {result.run_id} failed (job ")
    host, port = receiver.server_address[:2]
    assert f"{RUN_FAILED} alert for run {result.run_id} sent to http://{host} (HTTP 204)" in (
        sensor_log
    )
    assert SECRET_PATH not in sensor_log


def test_a_failed_blocking_check_reaches_the_receiver(receiver, instance, data_dir, replay_dir):
    # A stored raw snapshot whose entries disagree with its total: the raw layer would refuse
    # it, so it is put in place by hand, as an older version of the code might have left it.
    document = json.loads((SAMPLE_DATA_DIR / SMALL_PLAYLIST_ID / f"{WEEK}.json").read_bytes())
    document["items"]["total"] += 2
    raw_folder = data_dir / constants.RAW / "playlist_json"
    path = partition_path(raw_folder, "playlist_json", JSON, SMALL_PLAYLIST_ID, WEEK)
    path.parent.mkdir(parents=True)
    path.write_bytes(strict_json(document))
    normalized = dg.AssetSelection.assets(normalized_tables)
    result = failed_run(instance, data_dir, replay_dir, selection=normalized)
    evaluate_sensor(instance, result)
    [(_, message)] = receiver.received
    assert message["kind"] == CHECK_FAILED
    assert message["failed_checks"] == [
        {
            "asset": "normalized/playlist_entries",
            "check": "entries_match_playlist_total",
            "problems": "8 entries, but the playlist says total = 10",
        }
    ]
    assert "blocking check failed" in message["text"]
    assert "entries_match_playlist_total on normalized/playlist_entries" in message["text"]


def test_alerts_are_off_with_a_clear_line_when_the_variable_is_unset(
    instance, data_dir, replay_dir, monkeypatch, capfd
):
    monkeypatch.delenv(ENV_ALERT_WEBHOOK_URL, raising=False)
    (replay_dir / SMALL_PLAYLIST_ID / f"{WEEK}.json").unlink()
    result = failed_run(instance, data_dir, replay_dir)
    capfd.readouterr()
    skipped = evaluate_sensor(instance, result)
    assert isinstance(skipped, dg.SkipReason)
    line = f"alerts are off ({ENV_ALERT_WEBHOOK_URL} is not set): run {result.run_id} failed"
    assert skipped.skip_message == line
    assert line in capfd.readouterr().err


def test_a_webhook_that_refuses_fails_naming_its_host_not_its_key(receiver):
    receiver.status = 500
    with pytest.raises(AlertNotSent) as refused:
        post_alert(receiver.url, {"text": "test"})
    host, port = receiver.server_address[:2]
    assert str(refused.value) == f"the webhook at http://{host} answered HTTP 500"
    receiver.server_close()  # nothing listens any more
    with pytest.raises(AlertNotSent) as unanswered:
        post_alert(receiver.url, {"text": "test"})
    assert SECRET_PATH not in str(unanswered.value)
    assert "did not answer" in str(unanswered.value)


def test_the_sensor_runs_by_default_on_every_job_of_the_code_location():
    assert alert_on_failure.default_status == dg.DefaultSensorStatus.RUNNING
    from spotify_assets.definitions import defs

    assert defs.resolve_sensor_def(alert_on_failure.name) is not None


def test_a_run_of_several_partitions_names_its_range():
    tags = {
        "dagster/asset_partition_range_start": "p1|2026-09-07",
        "dagster/asset_partition_range_end": "p1|2026-11-09",
    }
    assert run_partition(tags) == "p1|2026-09-07...p1|2026-11-09"
    assert run_partition({"dagster/partition": "p1|2026-09-07"}) == "p1|2026-09-07"
    assert run_partition({}) is None
