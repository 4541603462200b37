"""What one playlist-week's analytics read: its own partitions and its playlist's previous
snapshot, named, so that the cost of a summary does not grow with the lake. Pure Python: the
caller says how to count a week's entries (from the object store, local or S3)."""

import datetime as dt
from collections.abc import Callable, Iterable

from spotify_assets.sql.catalog import Partitions, PartitionsByTable


def previous_snapshot_week(
    entries_in_week: Callable[[str], int | None], week: str, first_week: str
) -> str | None:
    """The newest week before ``week``, back to ``first_week``, in which the playlist has
    entries: the snapshot the week-over-week views compare ``week`` with. ``entries_in_week``
    gives a week's entry count, None when that week was never taken.

    Usually the week before, looked at once. An empty snapshot has no rows for SQL to compare
    with, so the views go back past it, and so does this."""
    current = dt.date.fromisoformat(week)
    first = dt.date.fromisoformat(first_week)
    while (current := current - dt.timedelta(weeks=1)) >= first:
        if entries_in_week(current.isoformat()):
            return current.isoformat()
    return None


def summary_partitions(
    playlist: str,
    week: str,
    previous_week: str | None,
    tables_of_both_weeks: Iterable[str],
    tables_of_this_week: Iterable[str],
) -> PartitionsByTable:
    """The partitions a playlist-week's summary reads: the week's own of every table named,
    and the previous snapshot's of the ``tables_of_both_weeks``; nothing else."""
    both = (week,) if previous_week is None else (week, previous_week)
    partitions = {table: Partitions(playlist, (week,)) for table in tables_of_this_week}
    partitions.update({table: Partitions(playlist, both) for table in tables_of_both_weeks})
    return partitions
