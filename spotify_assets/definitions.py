"""Everything Dagster loads: the assets, their checks, the weekly schedule, the sensors, whatever
``dg scaffold defs`` added under ``spotify_assets/defs/`` and, per deployment, the resources
(picked in :mod:`spotify_assets.deployment`)."""

import warnings

import dagster as dg

from spotify_assets import defs as defs_folder
from spotify_assets.alerts import alert_on_failure
from spotify_assets.assets import all_assets
from spotify_assets.assets.analytics import analytics_sensor
from spotify_assets.code_references import with_code_references
from spotify_assets.deployment import PROJECT_ROOT, resources
from spotify_assets.playlist_partitions import (
    add_configured_playlists_at_load,
    playlist_partitions_sensor,
)
from spotify_assets.schedules import weekly_snapshot_job, weekly_snapshot_schedule


def scaffolded_defs() -> dg.Definitions:
    """What `dg scaffold defs` added under ``spotify_assets/defs/``."""
    with warnings.catch_warnings():
        # Dagster's defs-folder loader calls functions it marks as preview; the one that hid
        # that (`load_defs`) is deprecated, and `load_from_defs_folder` needs pyproject.toml,
        # which an image does not carry.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        tree = dg.ComponentTree.from_module(defs_module=defs_folder, project_root=PROJECT_ROOT)
        # The folder, not the tree's root: the root also imports every installed library's
        # component types (dagster-aws's, with boto3: most of a start-up) to list them in the UI.
        folder_defs = tree.build_defs(tree.defs_module_path)
        return dg.Definitions.merge(folder_defs, dg.Definitions(component_tree=tree))


# Before anything asks for a partition of a configured playlist (see the module).
add_configured_playlists_at_load()

defs = dg.Definitions.merge(
    dg.Definitions(
        assets=with_code_references(all_assets),
        jobs=[weekly_snapshot_job],
        schedules=[weekly_snapshot_schedule],
        sensors=[analytics_sensor, alert_on_failure, playlist_partitions_sensor],
        resources=resources(),
        # One process per run: the steps are small, and a process per step (the default) spent
        # most of a partition's run starting Python.
        executor=dg.in_process_executor,
    ),
    scaffolded_defs(),
)
