"""Retries that help, one pool for Spotify and a timeout on every run: raw/playlist_json retries
what can pass and fails at once on what cannot (attempts counted from the event log, with a
scripted source and with the live reader against a fake Spotify); it is the one step in the
spotify_api pool; the weekly snapshot's runs carry a timeout that covers every attempt; and the
three instance configs (local, self-hosted, Dagster+) set all of it as Dagster reads it."""

import datetime as dt
import time

import dagster as dg
import pytest
import yaml
from dagster._core.execution.plan import active

from spotify_assets.assets import (
    all_assets,
    normalized_tables,
    playlist_csv,
    playlist_json,
    serving_assets,
)
from spotify_assets.assets.raw import (
    PLAYLIST_JSON,
    PLAYLIST_JSON_RETRY_POLICY,
    PLAYLIST_JSON_WORST_CASE_SECONDS,
    SPOTIFY_API_POOL,
    longest_retry_waits,
)
from spotify_assets.deployment import PROJECT_ROOT
from spotify_assets.io_managers.object_store import LocalObjectStore
from spotify_assets.playlist_partitions import add_playlists
from spotify_assets.schedules import (
    MAX_RUNTIME_TAG,
    SNAPSHOT_RUN_TIMEOUT_SECONDS,
    weekly_snapshot_job,
)
from spotify_assets.sources import LiveSource, ReplaySource, SourceError
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.sources.spotify_api import WORST_CASE_EXTRACTION_SECONDS
from spotify_assets_tests.conftest import local_resources, materialize, partition
from spotify_assets_tests.fake_spotify import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeSpotify,
)

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEK = SAMPLE_WEEKS[1]
# The schedule's tick after WEEK: the live source reads the latest completed week only.
NOW = dt.datetime.fromisoformat(WEEK).replace(tzinfo=dt.UTC) + dt.timedelta(days=7, hours=6)
STEP = "raw__playlist_json"
ATTEMPT_STARTS = ("STEP_START", "STEP_RESTARTED")
ATTEMPT_ENDS = ("STEP_UP_FOR_RETRY", "STEP_FAILURE", "STEP_SUCCESS")
INSTANCE_CONFIGS = {
    "local": PROJECT_ROOT / "dagster.yaml",
    "self-hosted": PROJECT_ROOT / "deploy" / "oss" / "dagster.yaml",
    "dagster-plus": PROJECT_ROOT / "deploy" / "dagster-plus" / "deployment_settings.yaml",
}
# What a Dagster instance takes from these files about queues, pools, timeouts and retries.
SCHEDULING_SECTIONS = ("concurrency", "run_coordinator", "run_monitoring", "run_retries")


class ScriptedSource:
    """Raises ``failures``, one per extraction, then replays the sample recording."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)

    def extract_reusing(self, playlist_id, week, latest_stored):
        if self.failures:
            raise self.failures.pop(0)
        return ReplaySource().extract(playlist_id, week)


class _SkippingClock:
    """The clock Dagster's executor waits for a retry on: a sleep moves it on at once."""

    def __init__(self) -> None:
        self.slept = 0.0

    def time(self) -> float:
        return time.time() + self.slept

    def sleep(self, seconds: float) -> None:
        self.slept += seconds


@pytest.fixture(autouse=True)
def no_retry_waits(monkeypatch):
    """Retries keep their real delays (in the event log) without the test waiting them out."""
    monkeypatch.setattr(active, "time", _SkippingClock())


def _materialize_playlist_json(source, data_dir, instance) -> dg.ExecuteInProcessResult:
    return materialize(
        [playlist_json],
        partition_key=partition(PLAYLIST, WEEK),
        resources={
            "playlist_source": source,
            "object_store": LocalObjectStore(data_dir=str(data_dir)),
        },
        instance=instance,
        raise_on_error=False,
    )


def _attempts(instance, result) -> list[dg.DagsterEvent]:
    """How each attempt of the playlist_json step ended, from the run's event log."""
    events = [
        entry.dagster_event
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event and entry.dagster_event.step_key == STEP
    ]
    starts = [event for event in events if event.event_type_value in ATTEMPT_STARTS]
    ends = [event for event in events if event.event_type_value in ATTEMPT_ENDS]
    assert len(starts) == len(ends)
    return ends


def _outcomes(attempts: list[dg.DagsterEvent]) -> list[str]:
    return [attempt.event_type_value for attempt in attempts]


# -- which failures are retried ----------------------------------------------------------------


def test_a_transient_failure_is_retried_with_backoff_until_it_passes(data_dir, instance):
    outage = SourceError("Spotify answered 503", transient=True)
    result = _materialize_playlist_json(ScriptedSource(outage, outage), data_dir, instance)

    assert result.success
    attempts = _attempts(instance, result)
    assert _outcomes(attempts) == ["STEP_UP_FOR_RETRY", "STEP_UP_FOR_RETRY", "STEP_SUCCESS"]
    first_wait, second_wait = (a.step_retry_data.seconds_to_wait for a in attempts[:2])
    # About one minute, then about three, each spread by up to a minute.
    assert 0 <= first_wait <= 120
    assert 120 <= second_wait <= 240


def test_a_transient_failure_that_lasts_fails_after_the_last_retry(data_dir, instance):
    outage = SourceError("Spotify answered 503", transient=True)
    source = ScriptedSource(*[outage] * (PLAYLIST_JSON_RETRY_POLICY.max_retries + 1))
    result = _materialize_playlist_json(source, data_dir, instance)

    assert not result.success
    assert _outcomes(_attempts(instance, result)) == [
        "STEP_UP_FOR_RETRY",
        "STEP_UP_FOR_RETRY",
        "STEP_FAILURE",
    ]


@pytest.mark.parametrize(
    "error",
    [
        SourceError("Spotify refused SPOTIFY_REFRESH_TOKEN (invalid_grant: revoked)"),
        SourceError("request quota is used up (429 QUOTA_EXCEEDED)"),
        # What the source says, not the words of its message, decides.
        SourceError("Spotify kept failing (HTTP 500)"),
    ],
    ids=["invalid_grant", "quota", "not marked transient"],
)
def test_a_permanent_failure_fails_at_once(data_dir, instance, error):
    result = _materialize_playlist_json(ScriptedSource(error), data_dir, instance)

    assert not result.success
    [attempt] = _attempts(instance, result)
    assert attempt.event_type_value == "STEP_FAILURE"
    assert attempt.step_failure_data.error.message.strip().endswith(str(error))


def test_a_document_of_the_wrong_shape_fails_at_once(data_dir, instance):
    class NotAPlaylist(ScriptedSource):
        def extract_reusing(self, playlist_id, week, latest_stored):
            extraction = super().extract_reusing(playlist_id, week, latest_stored)
            extraction.playlist = {"id": playlist_id, "name": "no entries"}
            return extraction

    result = _materialize_playlist_json(NotAPlaylist(), data_dir, instance)

    assert _outcomes(_attempts(instance, result)) == ["STEP_FAILURE"]


# What the live reader raises, through the real spotipy client and a fake Spotify: how many
# attempts each failure gets and how many requests it costs.
LIVE_FAILURES = {
    "5xx that outlasts the reader's retries": (
        lambda spotify: spotify.answer("GET", f"/v1/playlists/{PLAYLIST}", 503, times=100),
        3,
    ),
    "short rate limit that lasts": (
        lambda spotify: spotify.rate_limit(f"/v1/playlists/{PLAYLIST}", 1, times=100),
        3,
    ),
    "invalid_grant": (lambda spotify: setattr(spotify, "revoked", True), 1),
    "quota used up": (
        lambda spotify: spotify.rate_limit(
            f"/v1/playlists/{PLAYLIST}", 3600, quota=True, times=100
        ),
        1,
    ),
    "Retry-After of hours": (
        lambda spotify: spotify.rate_limit(f"/v1/playlists/{PLAYLIST}", 7200, times=100),
        1,
    ),
    "401 after a refresh": (
        lambda spotify: spotify.answer("GET", f"/v1/playlists/{PLAYLIST}", 401, times=100),
        1,
    ),
    "403": (lambda spotify: spotify.answer("GET", f"/v1/playlists/{PLAYLIST}", 403), 1),
    "404": (lambda spotify: spotify.answer("GET", f"/v1/playlists/{PLAYLIST}", 404), 1),
}


@pytest.mark.parametrize(("break_spotify", "attempts"), LIVE_FAILURES.values(), ids=LIVE_FAILURES)
def test_the_live_readers_failures_are_retried_only_when_they_can_pass(
    data_dir, instance, monkeypatch, break_spotify, attempts
):
    monkeypatch.setattr(LiveSource, "now", lambda self: NOW)
    monkeypatch.setattr(LiveSource, "sleep", lambda self, seconds: None)
    with FakeSpotify() as spotify:
        spotify.add_playlist(ReplaySource().extract(PLAYLIST, WEEK).playlist)
        break_spotify(spotify)
        source = LiveSource(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=REFRESH_TOKEN,
            playlists=PLAYLIST,
            api_base_url=spotify.api_base_url,
            accounts_base_url=spotify.accounts_base_url,
        )
        result = _materialize_playlist_json(source, data_dir, instance)

    assert not result.success
    outcomes = _outcomes(_attempts(instance, result))
    assert outcomes == ["STEP_UP_FOR_RETRY"] * (attempts - 1) + ["STEP_FAILURE"]


# -- the Spotify pool and the run timeout -------------------------------------------------------


def test_the_spotify_pool_holds_the_one_step_that_calls_spotify():
    pooled = {
        key: asset.node_def.pool
        for asset in all_assets
        for key in asset.keys
        if getattr(asset.node_def, "pool", None)
    }
    assert pooled == {PLAYLIST_JSON: SPOTIFY_API_POOL}
    assert playlist_json.op.retry_policy == PLAYLIST_JSON_RETRY_POLICY


def test_the_snapshot_timeout_covers_every_attempt_of_the_extraction():
    # Two retries after about one minute and about three, each up to a minute later.
    assert longest_retry_waits(PLAYLIST_JSON_RETRY_POLICY) == 120 + 240
    every_attempt = (PLAYLIST_JSON_RETRY_POLICY.max_retries + 1) * WORST_CASE_EXTRACTION_SECONDS
    assert every_attempt + 360 == PLAYLIST_JSON_WORST_CASE_SECONDS
    assert SNAPSHOT_RUN_TIMEOUT_SECONDS > PLAYLIST_JSON_WORST_CASE_SECONDS


def _instance_config(name: str) -> dict:
    return yaml.safe_load(INSTANCE_CONFIGS[name].read_text())


def _scheduling_overrides(name: str) -> dict:
    config = _instance_config(name)
    return {section: config[section] for section in SCHEDULING_SECTIONS if section in config}


def test_a_weekly_snapshot_run_has_its_timeout_and_takes_a_spotify_slot(data_dir):
    snapshot_assets = [playlist_json, playlist_csv, normalized_tables, *serving_assets]
    job = dg.Definitions(
        assets=snapshot_assets, jobs=[weekly_snapshot_job], resources=local_resources(data_dir)
    ).resolve_job_def(weekly_snapshot_job.name)

    with dg.instance_for_test(overrides=_scheduling_overrides("local")) as instance:
        add_playlists(instance, [PLAYLIST])
        result = job.execute_in_process(partition_key=partition(PLAYLIST, WEEK), instance=instance)
        pool = instance.event_log_storage.get_concurrency_info(SPOTIFY_API_POOL)

    assert result.success
    assert result.dagster_run.tags[MAX_RUNTIME_TAG] == str(SNAPSHOT_RUN_TIMEOUT_SECONDS)
    # The step claimed a slot of the pool, which took the limit dagster.yaml gives every pool.
    local_limit = _instance_config("local")["concurrency"]["pools"]["default_limit"]
    assert pool.slot_count == local_limit
    assert pool.active_slot_count == 0  # and gave it back


# -- the instance configs -----------------------------------------------------------------------


@pytest.fixture(params=INSTANCE_CONFIGS)
def config_name(request) -> str:
    return request.param


@pytest.fixture
def scheduling(config_name):
    """A Dagster instance with the config's queue, pool, monitoring and retry settings."""
    with dg.instance_for_test(overrides=_scheduling_overrides(config_name)) as instance:
        yield instance


def test_runs_and_the_spotify_pool_are_limited_in_the_current_form(config_name, scheduling):
    config = _instance_config(config_name)
    concurrency = config["concurrency"]
    assert concurrency["runs"]["max_concurrent_runs"] >= 1
    assert concurrency["pools"]["granularity"] == "op"
    # Not the legacy forms, which cannot be combined with pools.
    assert "run_queue" not in config
    assert "default_op_concurrency_limit" not in concurrency
    assert "max_concurrent_runs" not in (config.get("run_coordinator") or {}).get("config", {})
    assert scheduling.global_op_concurrency_default_limit == concurrency["pools"]["default_limit"]


def test_spotify_gets_the_same_slots_everywhere_and_a_laptop_two_runs():
    limits = {
        name: _instance_config(name)["concurrency"]["pools"]["default_limit"]
        for name in INSTANCE_CONFIGS
    }
    assert len(set(limits.values())) == 1, limits
    assert _instance_config("local")["concurrency"]["runs"]["max_concurrent_runs"] == 2


def test_a_failed_step_never_makes_a_run_retry(config_name, scheduling):
    if scheduling.run_retries_max_retries:
        assert scheduling.run_retries_retry_on_asset_or_op_failure is False


def test_every_run_has_a_timeout_no_shorter_than_a_snapshots(config_name, scheduling):
    assert scheduling.run_monitoring_max_runtime_seconds >= SNAPSHOT_RUN_TIMEOUT_SECONDS
    if config_name != "dagster-plus":  # Dagster+ always monitors runs
        assert scheduling.run_monitoring_enabled
