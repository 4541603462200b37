"""The weekly snapshot's freshness policy: on which assets, and what Dagster's evaluator makes of
it around Monday noon UTC, with materializations reported at frozen times."""

import asyncio
import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import CronFreshnessPolicyEvaluator
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time

from spotify_assets import constants
from spotify_assets.assets import (
    normalized_tables,
    playlist_csv,
    playlist_json,
    serving_assets,
    with_owners_and_deadline,
)
from spotify_assets.assets.analytics import analytics_assets
from spotify_assets.assets.metadata import OWNERS
from spotify_assets.freshness import WEEKLY_SNAPSHOT_FRESHNESS, weekly_freshness_policy
from spotify_assets_tests.conftest import local_resources

RAW_JSON = dg.AssetKey([constants.RAW, "playlist_json"])
MONDAY = dt.datetime(2026, 11, 16, tzinfo=dt.UTC)  # the week of 2026-11-09 ended at 00:00
CREDENTIALS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN")


def at(days: float = 0, hours: float = 0) -> dt.datetime:
    return MONDAY + dt.timedelta(days=days, hours=hours)


def asset_graph(freshness_policy):
    everything = [playlist_json, playlist_csv, normalized_tables, *serving_assets]
    assets = [with_owners_and_deadline(a, freshness_policy) for a in everything + analytics_assets]
    resources = local_resources(Path("unused"))  # resolving the graph checks them
    return dg.Definitions(assets=assets, resources=resources).resolve_asset_graph()


def test_every_weekly_asset_has_the_deadline_and_every_asset_its_owners():
    graph = asset_graph(WEEKLY_SNAPSHOT_FRESHNESS)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        weekly = node.group_name in (constants.RAW, constants.NORMALIZED, constants.SERVING)
        assert node.freshness_policy == (WEEKLY_SNAPSHOT_FRESHNESS if weekly else None), key
        assert list(node.owners) == OWNERS, key
    assert WEEKLY_SNAPSHOT_FRESHNESS.deadline_cron == "0 12 * * 1"
    assert WEEKLY_SNAPSHOT_FRESHNESS.timezone == "UTC"
    assert WEEKLY_SNAPSHOT_FRESHNESS.lower_bound_delta == dt.timedelta(hours=12)


def test_the_policy_applies_to_the_live_source_only(monkeypatch):
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    assert weekly_freshness_policy() is None  # replaying: no new week to expect
    for name in CREDENTIALS:
        monkeypatch.setenv(name, "set")
    assert weekly_freshness_policy() == WEEKLY_SNAPSHOT_FRESHNESS


@pytest.fixture
def graph():
    return asset_graph(WEEKLY_SNAPSHOT_FRESHNESS)


def materialize_at(instance, when: dt.datetime) -> None:
    with freeze_time(when):
        instance.report_runless_asset_event(dg.AssetMaterialization(RAW_JSON))


def state_at(instance, graph, when: dt.datetime) -> FreshnessState:
    with freeze_time(when):
        evaluation = CronFreshnessPolicyEvaluator().evaluate_freshness(
            LoadingContextForTest(instance), graph.get(RAW_JSON)
        )
        return asyncio.run(evaluation)


def test_a_snapshot_by_monday_noon_is_fresh_until_the_next_monday_noon(instance, graph):
    assert state_at(instance, graph, at(hours=13)) == FreshnessState.UNKNOWN  # never materialized
    materialize_at(instance, at(hours=6.05))  # the schedule's run, Monday 06:03
    assert state_at(instance, graph, at(hours=12.02)) == FreshnessState.PASS
    assert state_at(instance, graph, at(days=6, hours=23)) == FreshnessState.PASS
    assert state_at(instance, graph, at(days=7, hours=11)) == FreshnessState.PASS
    # The next Monday noon passes with no snapshot of the week that ended: late.
    assert state_at(instance, graph, at(days=7, hours=12.5)) == FreshnessState.FAIL
    materialize_at(instance, at(days=7, hours=14))  # a late run, or a retry
    assert state_at(instance, graph, at(days=7, hours=15)) == FreshnessState.PASS


def test_a_snapshot_before_the_week_ended_is_not_that_weeks(instance, graph):
    materialize_at(instance, at(hours=-1))  # Sunday 23:00: the week was not over yet
    assert state_at(instance, graph, at(hours=12.5)) == FreshnessState.FAIL
