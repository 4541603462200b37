"""The definitions load, with the design's keys, groups, partitions, checks and schedule."""

import datetime as dt

import dagster as dg

from spotify_assets import constants
from spotify_assets.definitions import defs
from spotify_assets.io_managers.serving import SERVING_ORDER
from spotify_assets.partitions import weekly_partitions
from spotify_assets.playlist_partitions import add_configured_playlists_at_load
from spotify_assets.schedules import last_completed_week, weekly_snapshot_schedule
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets_tests.conftest import partition


def test_definitions_load_with_the_designed_keys_and_groups():
    dg.Definitions.validate_loadable(defs)
    asset_graph = defs.resolve_asset_graph()
    groups = {
        key.to_user_string(): asset_graph.get(key).group_name
        for key in asset_graph.get_all_asset_keys()
    }
    assert groups == {
        "raw/playlist_json": "raw",
        "raw/playlist_csv": "raw",
        **{f"normalized/{t}": "normalized" for t in constants.NORMALIZED_TABLES},
        **{f"serving/{t}": "serving" for t in constants.SERVING_TABLES},
        "analytics/weekly_summary": "analytics",
        "analytics/dashboard": "analytics",
    }
    for key in asset_graph.get_all_asset_keys():
        if asset_graph.get(key).group_name == "analytics":
            continue  # partitioned by week alone or not at all: see test_analytics.py
        partitions_def = asset_graph.get(key).partitions_def
        assert isinstance(partitions_def, dg.MultiPartitionsDefinition)
        assert sorted(partitions_def.partition_dimension_names) == ["playlist", "week"]


def test_lineage_runs_raw_to_normalized_to_serving():
    asset_graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        node = asset_graph.get(dg.AssetKey.from_user_string(key))
        return {parent.to_user_string() for parent in node.parent_keys}

    assert parents("raw/playlist_csv") == {"raw/playlist_json"}
    for table in constants.NORMALIZED_TABLES:
        assert parents(f"normalized/{table}") == {"raw/playlist_json"}
    # A serving table is written after those it refers to: artists, albums, songs, entries.
    written_before: set[str] = set()
    for table in SERVING_ORDER:
        assert parents(f"serving/{table}") == {f"normalized/{table}", *written_before}
        written_before.add(f"serving/{table}")


def test_partitions_are_weeks_starting_monday_times_the_sample_playlists():
    partitions_def = defs.resolve_asset_graph().get(dg.AssetKey(["raw", "playlist_json"]))
    partitions_def = partitions_def.partitions_def
    weeks = partitions_def.get_partitions_def_for_dimension(constants.WEEK)
    playlists = partitions_def.get_partitions_def_for_dimension(constants.PLAYLIST)
    # What loading the definitions does to the instance at hand (the test's DAGSTER_HOME).
    assert sorted(add_configured_playlists_at_load()) == sorted(SAMPLE_PLAYLIST_IDS)
    with dg.DagsterInstance.get() as instance:
        keys = playlists.get_partition_keys(dynamic_partitions_store=instance)
    assert sorted(keys) == sorted(SAMPLE_PLAYLIST_IDS)
    # Replaying the sample data, the weeks are its recorded weeks, whatever the date.
    for now in (dt.datetime(2026, 11, 21), dt.datetime(2031, 6, 2), dt.datetime.now()):
        assert weeks.get_partition_keys(current_time=now) == SAMPLE_WEEKS
    assert weeks.get_last_partition_key() == SAMPLE_WEEKS[-1]
    assert all(dt.date.fromisoformat(week).weekday() == 0 for week in SAMPLE_WEEKS)


def test_every_normalized_table_has_blocking_checks():
    asset_graph = defs.resolve_asset_graph()
    checks = {
        (check_key.asset_key.to_user_string(), check_key.name): asset_graph.get(check_key).blocking
        for check_key in asset_graph.asset_check_keys
    }
    for table in constants.NORMALIZED_TABLES:
        assert checks[(f"normalized/{table}", "primary_key_unique_and_not_null")] is True
    assert checks[("normalized/songs", "foreign_keys_resolve")] is True
    assert checks[("normalized/playlist_entries", "entries_match_playlist_total")] is True


def test_last_completed_week_is_the_monday_before_last():
    monday_6am = dt.datetime(2026, 11, 16, 6, tzinfo=dt.UTC)
    assert last_completed_week(monday_6am) == "2026-11-09"
    assert last_completed_week(dt.datetime(2026, 11, 22, 23, 59, tzinfo=dt.UTC)) == "2026-11-09"


def test_schedule_tick_requests_one_run_per_playlist_for_the_previous_week(instance):
    assert weekly_snapshot_schedule.cron_schedule == "0 6 * * 1"
    assert weekly_snapshot_schedule.execution_timezone == "UTC"
    assert weekly_snapshot_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    tick = dt.datetime(2026, 11, 16, 6, tzinfo=dt.UTC)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        requests = list(weekly_snapshot_schedule(context))
    assert [request.partition_key for request in requests] == [
        partition(playlist_id, "2026-11-09") for playlist_id in sorted(SAMPLE_PLAYLIST_IDS)
    ]
    assert len({request.run_key for request in requests}) == len(requests)


def test_replayed_weeks_end_at_the_last_recording_of_any_playlist(tmp_path, monkeypatch):
    for playlist_id, weeks in {
        "1zhBYfZpVwTT8hOGLgMJvk": ["2019-03-04", "2019-03-11"],
        "4q0xVAtAY3eZ8QdD5I84BJ": ["2019-03-11", "2019-04-01"],
    }.items():
        for week in weeks:
            (tmp_path / playlist_id).mkdir(exist_ok=True)
            (tmp_path / playlist_id / f"{week}.json").write_text("{}")
    monkeypatch.setenv(constants.ENV_REPLAY_DIR, str(tmp_path))
    weeks = weekly_partitions().get_partition_keys(current_time=dt.datetime.now())
    assert weeks == ["2019-03-04", "2019-03-11", "2019-03-18", "2019-03-25", "2019-04-01"]


def test_live_weeks_run_to_the_last_completed_week(monkeypatch):
    for name in ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "SPOTIFY_REFRESH_TOKEN"):
        monkeypatch.setenv(name, "set")
    monkeypatch.setenv(constants.ENV_PLAYLISTS, "4q0xVAtAY3eZ8QdD5I84BJ")
    weeks = weekly_partitions()
    now = dt.datetime(2027, 2, 17, 12, tzinfo=dt.UTC)
    assert weeks.get_first_partition_key() == constants.FIRST_WEEK
    assert weeks.get_partition_keys(current_time=now)[-1] == "2027-02-08"


def test_schedule_skips_weeks_past_the_last_recording(instance):
    last_week = dt.date.fromisoformat(SAMPLE_WEEKS[-1])
    tick = dt.datetime.combine(last_week + dt.timedelta(days=14), dt.time(6), tzinfo=dt.UTC)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        [result] = list(weekly_snapshot_schedule(context))
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == (
        f"week {last_week + dt.timedelta(days=7)} has no partition: the weeks end at {last_week}"
    )
