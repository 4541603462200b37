"""Runs over several partitions: rebuilding history in a few runs, not one per partition.

Rebuilding the lake after a transform change is one partition per playlist per week; as one run
each, start-up (seconds) dwarfs the work (a fraction of a second). The assets downstream of the
stored raw layer carry :data:`GROUPED_BACKFILL_POLICY`, so a backfill (the UI's *Launch backfill*,
or the automation sensor catching up) runs up to ``MAX_PARTITIONS_PER_RUN`` partitions at once.
``raw/playlist_json`` does not: it reads the source as it is now, one partition per run.

How Dagster 1.13 cuts a week x playlist subset into runs (``DefaultPartitionsSubset.
get_partition_key_ranges``, then ``_build_run_requests_for_partition_key_range``): it holds
whichever dimension has fewer keys in the subset fixed, so a range is one playlist's consecutive
weeks (a year of history) or one week's consecutive playlists (a week of every playlist), and
cuts each range into runs of at most ``MAX_PARTITIONS_PER_RUN`` consecutive keys.

Between the IO managers and the assets, values follow Dagster's convention for partitions
(``UPathIOManager.load_partitions``): a run of one partition passes the value, a run of several a
dict keyed by partition key, both ways. Each partition is stored in its own folder with the bytes
a run of it alone would write, and gets its own materialization and metadata.
"""

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from spotify_assets import constants

# A quarter of a year: a year of a playlist's history is four runs, not 52. Past about a dozen
# partitions the run's start-up (about two seconds) is a small share of its work, and more would
# only add memory: a run holds every partition's raw document and tables at once, and a quarter of
# a 10,000-entry playlist's snapshots (21 MB of JSON each) is under 300 MB (docs/benchmarks.md).
MAX_PARTITIONS_PER_RUN = 13
GROUPED_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)
# A job of raw and the rest (the weekly snapshot, the UI's *Materialize all*) mixes the two
# policies on purpose, and Dagster warns of it at every load: a backfill launches raw one partition
# per run whatever the job, and the schedule's runs are one partition each.
warnings.filterwarnings(
    "ignore", message=r"Asset job \S+ materializes assets with varying BackfillPolicies"
)


def grouped_backfills(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """``assets_def`` with :data:`GROUPED_BACKFILL_POLICY`, as a decorator above ``@dg.asset``
    (whose ``backfill_policy`` parameter is beta in Dagster 1.13 and warns on every load)."""
    return assets_def.with_attributes(backfill_policy=GROUPED_BACKFILL_POLICY)


def week_and_playlist_of(partition_key: str) -> tuple[str, str]:
    """The week and the playlist of a week x playlist partition key (``<playlist>|<week>``)."""
    if isinstance(partition_key, dg.MultiPartitionKey):
        keys = partition_key.keys_by_dimension
        return keys[constants.WEEK], keys[constants.PLAYLIST]
    # The key's dimensions are in name order: playlist, then week.
    playlist, week = str(partition_key).split("|")
    return week, playlist


def partition_label(partition_key: str) -> str:
    """``playlist '<id>', week <week>``: how failures and check results name a partition."""
    week, playlist = week_and_playlist_of(partition_key)
    return f"playlist {playlist!r}, week {week}"


def chronological(partition_keys: Iterable[str]) -> list[str]:
    """The keys playlist by playlist, each playlist's weeks oldest first: the order in which the
    serving store's writes cost least (each week builds on the one before)."""
    return sorted(partition_keys, key=lambda key: week_and_playlist_of(key)[::-1])


def run_partition_keys(context: dg.AssetExecutionContext) -> list[str]:
    """The partitions this run materializes, in :func:`chronological` order."""
    if context.has_partition_key:  # one partition: no range to expand
        return [context.partition_key]
    return chronological(context.partition_keys)


def io_partition_keys(context: dg.InputContext | dg.OutputContext) -> list[str]:
    """The partitions of an IO manager's input or output, in :func:`chronological` order. An
    output of a run of one partition is that partition, found without listing a range (which asks
    the instance for the playlists, a dynamic dimension)."""
    if isinstance(context, dg.OutputContext) and context.has_partition_key:
        return [context.partition_key]
    return chronological(context.asset_partition_keys)


def by_partition(partition_keys: Sequence[str], loaded: Any) -> dict[str, Any]:
    """An input as a dict keyed by partition key: ``loaded`` is the value itself when the run has
    one partition, a dict keyed by partition key when it has several."""
    if len(partition_keys) == 1:
        return {partition_keys[0]: loaded}
    return {key: loaded[key] for key in partition_keys}


def partition_output(
    context: dg.AssetExecutionContext,
    values: Mapping[str, Any],
    metadata: Mapping[str, Mapping[str, Any]],
    output_name: str = "result",
) -> dg.Output:
    """The output of one asset of this run: ``values`` and ``metadata`` hold one entry per
    partition. One partition: its value, with its metadata on the output. Several: the dict,
    with each partition's metadata on that partition's materialization."""
    if len(values) == 1:
        [(partition_key, value)] = values.items()
        return dg.Output(value, output_name=output_name, metadata=metadata[partition_key])
    asset_key = context.assets_def.keys_by_output_name[output_name]
    for partition_key, partition_metadata in metadata.items():
        context.add_asset_metadata(
            partition_metadata, asset_key=asset_key, partition_key=partition_key
        )
    return dg.Output(dict(values), output_name=output_name)


def output_partitions(context: dg.OutputContext, obj: Any) -> list[tuple[str, Any]]:
    """What an IO manager stores: ``(partition key, value)`` for each partition of the output,
    in :func:`chronological` order. ``obj`` is the value itself for one partition, a dict keyed
    by partition key for several (see the module)."""
    partition_keys = io_partition_keys(context)
    if len(partition_keys) == 1:
        return [(partition_keys[0], obj)]
    if not isinstance(obj, Mapping) or set(obj) != set(partition_keys):
        raise dg.Failure(
            description=f"{context.asset_key.to_user_string()}: a run over "
            f"{len(partition_keys)} partitions must output a dict keyed by partition key, "
            "one value per partition",
            allow_retries=False,
        )
    return [(partition_key, obj[partition_key]) for partition_key in partition_keys]


def add_partition_metadata(
    context: dg.OutputContext, partition_key: str, metadata: Mapping[str, Any]
) -> None:
    """Metadata an IO manager reports for one partition of the output: on the output when it is
    the only one, else on that partition's materialization alone."""
    if len(io_partition_keys(context)) == 1:
        context.add_output_metadata(dict(metadata))
        return
    # OutputContext has no partition-scoped metadata of its own; the step's is what
    # `AssetExecutionContext.add_asset_metadata` fills, and Dagster reads it per partition when it
    # records the materializations, after the IO manager returns.
    context.step_context.add_asset_metadata(
        dict(metadata), asset_key=context.asset_key, partition_key=partition_key
    )
