"""The playlist dimension as data: Dagster's dynamic partitions, kept in the instance.

Which playlists have partitions is stored by the Dagster instance, not by the code: a playlist is
added with ``spotify-assets playlists add`` (or *Add partition* in the UI) and snapshotted from the
next weekly run, without a deploy. The configured playlists (``SPOTIFY_PLAYLISTS``, else the
replay folder's) are always among them:

- the definitions add the missing ones when they load, wherever an instance is at hand
  (``DAGSTER_HOME``): ``dagster asset materialize --partition '<playlist>|<week>'`` works on a
  fresh instance with no step before it;
- the :data:`playlist_partitions_sensor` adds a playlist that enters the configured list and
  removes one that leaves it (the list it last saw is its cursor), leaving the playlists added by
  hand alone.

Removing a playlist stops its snapshots: the weekly schedule asks for the instance's playlists.
Its history stays where it is (the lake's files, the SQL views, the serving tables, exports, and
Dagster's materializations, shown again if it is added back).
"""

import json
import logging
import os
from pathlib import Path

import dagster as dg

from spotify_assets import constants
from spotify_assets.deployment import ENV_DEPLOYMENT_NAME, configured_playlist_ids

logger = logging.getLogger(__name__)

# Unique to this code location: Dagster keeps dynamic partitions per instance, by this name.
PLAYLIST_PARTITIONS_NAME = "spotify_assets_playlists"

playlist_partitions = dg.DynamicPartitionsDefinition(name=PLAYLIST_PARTITIONS_NAME)


def partitioned_playlist_ids(instance: dg.DagsterInstance) -> list[str]:
    """The playlists that have partitions in ``instance``, in the order they were added."""
    return list(instance.get_dynamic_partitions(PLAYLIST_PARTITIONS_NAME))


def add_playlists(instance: dg.DagsterInstance, playlist_ids: list[str]) -> list[str]:
    """Gives each playlist partitions; returns those that had none."""
    known = set(partitioned_playlist_ids(instance))
    added = [playlist_id for playlist_id in dict.fromkeys(playlist_ids) if playlist_id not in known]
    if added:
        instance.add_dynamic_partitions(PLAYLIST_PARTITIONS_NAME, added)
    return added


def remove_playlists(instance: dg.DagsterInstance, playlist_ids: list[str]) -> list[str]:
    """Takes each playlist's partitions away (its data stays); returns those that had some."""
    known = set(partitioned_playlist_ids(instance))
    removed = [playlist_id for playlist_id in dict.fromkeys(playlist_ids) if playlist_id in known]
    for playlist_id in removed:
        instance.delete_dynamic_partition(PLAYLIST_PARTITIONS_NAME, playlist_id)
    return removed


def instance_at_load() -> dg.DagsterInstance | None:
    """The instance a Dagster command started here uses, found as Dagster finds it:
    ``DAGSTER_HOME``, else the working directory's ``dagster.yaml`` (`dg dev` and `dg launch` in
    the project's folder); None without either."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    if Path("dagster.yaml").is_file():
        return dg.DagsterInstance.from_config(os.getcwd())
    return None


def add_configured_playlists_at_load() -> list[str]:
    """The configured playlists that the instance of :func:`instance_at_load` lacks are added to
    it; returns them.

    Not in Dagster+ (its code servers reach the instance through the agent: the sensor adds
    them there), and never fatal: without it the sensor adds them within a minute."""
    if os.environ.get(ENV_DEPLOYMENT_NAME):
        return []
    try:
        instance = instance_at_load()
        if instance is None:
            return []
        with instance:
            return add_playlists(instance, configured_playlist_ids())
    except Exception as error:  # noqa: BLE001 - loading the definitions must not fail on it
        logger.warning(
            "could not add the configured playlists to the Dagster instance (%s: %s); the "
            "playlist_partitions sensor adds them when it runs",
            type(error).__name__,
            error,
        )
        return []


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Keeps the playlist partitions in step with `{constants.ENV_PLAYLISTS}` (else the replay "
        "folder): adds a playlist that enters the list and removes one that leaves it. "
        "Playlists added by hand (`spotify-assets playlists add`, or *Add partition* in the UI) "
        "are left alone; a removed playlist keeps its data."
    ),
)
def playlist_partitions_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    configured = configured_playlist_ids()
    previously_configured = json.loads(context.cursor) if context.cursor else []
    known = set(partitioned_playlist_ids(context.instance))
    entered = [playlist_id for playlist_id in configured if playlist_id not in known]
    left = [
        playlist_id
        for playlist_id in previously_configured
        if playlist_id not in configured and playlist_id in known
    ]
    requests = []
    if entered:
        requests.append(playlist_partitions.build_add_request(entered))
    if left:
        requests.append(playlist_partitions.build_delete_request(left))
    if entered or left:
        context.log.info(f"playlists added: {entered or 'none'}; removed: {left or 'none'}")
    return dg.SensorResult(dynamic_partitions_requests=requests, cursor=json.dumps(configured))
