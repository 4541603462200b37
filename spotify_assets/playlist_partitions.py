"""The playlist dimension as data: Dagster's dynamic partitions, kept in the instance.

Which playlists have partitions is stored by the Dagster instance, not by the code: a playlist is
added with ``spotify-assets playlists add`` (or *Add partition* in the UI) and snapshotted from the
next weekly run, without a deploy. The configured playlists (``SPOTIFY_PLAYLISTS``, else the
replay folder's) are always among them:

- the definitions add the missing ones when they load, wherever an instance is at hand
  (``DAGSTER_HOME``, else the folder's ``dagster.yaml``): ``dagster asset materialize
  --partition '<playlist>|<week>'`` works on a fresh instance with no step before it;
- the :data:`playlist_partitions_sensor` adds a playlist that enters the configured list and
  removes one that leaves it (the list it last saw is its cursor), leaving the playlists added by
  hand alone; optionally it adds the playlists the Spotify owner creates.

Removing a playlist stops its snapshots: the weekly schedule asks for the instance's playlists.
Its history stays where it is (the lake's files, the SQL views, the serving tables, exports, and
Dagster's materializations, shown again if it is added back).
"""

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path

import dagster as dg

from spotify_assets import constants
from spotify_assets.deployment import ENV_DEPLOYMENT_NAME, configured_playlist_ids
from spotify_assets.sources.base import SourceError
from spotify_assets.sources.spotify_settings import spotify_credentials_configured

logger = logging.getLogger(__name__)

# Unique to this code location: Dagster keeps dynamic partitions per instance, by this name.
PLAYLIST_PARTITIONS_NAME = "spotify_assets_playlists"

playlist_partitions = dg.DynamicPartitionsDefinition(name=PLAYLIST_PARTITIONS_NAME)
LOAD_ATTEMPTS = 5


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
    for attempt in range(1, LOAD_ATTEMPTS + 1):
        try:
            instance = instance_at_load()
            if instance is None:
                return []
            with instance:
                return add_playlists(instance, configured_playlist_ids())
        except Exception as error:  # noqa: BLE001 - loading the definitions must not fail on it
            # Processes starting at once race to add the same playlists (and, on an instance
            # whose storage is still being created, to create it): the one that loses finds
            # them there on a second try.
            if attempt < LOAD_ATTEMPTS:
                time.sleep(0.2 * attempt)
                continue
            logger.warning(
                "could not add the configured playlists to the Dagster instance (%s: %s); the "
                "playlist_partitions sensor adds them when it runs",
                type(error).__name__,
                error,
            )
    return []


# The owner's playlists are listed once a day (a few requests of the app's daily quota), and an
# hour after a listing that failed.
OWN_PLAYLISTS_EVERY = dt.timedelta(days=1)
OWN_PLAYLISTS_RETRY_AFTER = dt.timedelta(hours=1)


def adding_own_playlists() -> bool:
    """``SPOTIFY_ASSETS_ADD_OWN_PLAYLISTS`` is on and the owner's credentials are set."""
    on = os.environ.get(constants.ENV_ADD_OWN_PLAYLISTS, "").strip().lower() in ("1", "true")
    return on and spotify_credentials_configured()


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        f"Keeps the playlist partitions in step with `{constants.ENV_PLAYLISTS}` (else the replay "
        "folder): adds a playlist that enters the list and removes one that leaves it. With "
        f"`{constants.ENV_ADD_OWN_PLAYLISTS}=true`, also adds each playlist the Spotify owner "
        "creates (listed once a day). Playlists added or removed by hand (`spotify-assets "
        "playlists add|remove`, or the UI) are left alone; a removed playlist keeps its data."
    ),
)
def playlist_partitions_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = _read_cursor(context.cursor)
    configured = configured_playlist_ids()
    known = set(partitioned_playlist_ids(context.instance))
    entered = [p for p in configured if p not in known]
    left = [p for p in cursor["configured"] if p not in configured and p in known]
    cursor["configured"] = configured
    if adding_own_playlists() and _listing_due(cursor):
        entered += _newly_owned(cursor, context, known | set(entered))
    requests = []
    if entered:
        requests.append(playlist_partitions.build_add_request(entered))
    if left:
        requests.append(playlist_partitions.build_delete_request(left))
    if entered or left:
        context.log.info(f"playlists added: {entered or 'none'}; removed: {left or 'none'}")
    return dg.SensorResult(dynamic_partitions_requests=requests, cursor=json.dumps(cursor))


def _read_cursor(text: str | None) -> dict:
    cursor = json.loads(text) if text else {}
    return {"configured": [], "owned": None, "owned_listed_at": None, "owned_ok": True, **cursor}


def _listing_due(cursor: dict) -> bool:
    if cursor["owned_listed_at"] is None:
        return True
    wait = OWN_PLAYLISTS_EVERY if cursor["owned_ok"] else OWN_PLAYLISTS_RETRY_AFTER
    return dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(cursor["owned_listed_at"]) >= wait


def _newly_owned(cursor: dict, context: dg.SensorEvaluationContext, known: set[str]) -> list[str]:
    """The owner's playlists that appeared since the last listing (all of them the first time)
    and have no partitions; the cursor remembers the listing."""
    from spotify_assets.sources.live import own_playlist_ids_from_environment

    cursor["owned_listed_at"] = dt.datetime.now(dt.UTC).isoformat()
    try:
        owned = own_playlist_ids_from_environment()
    except SourceError as error:
        cursor["owned_ok"] = False
        context.log.warning(f"{error}; trying again in an hour")
        return []
    previously_owned = set(cursor["owned"] or [])
    cursor["owned"], cursor["owned_ok"] = owned, True
    return [p for p in owned if p not in previously_owned and p not in known]
