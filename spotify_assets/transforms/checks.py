"""Data-quality rules for one partition's normalized tables: lists of problems, empty if fine."""

import pyarrow as pa
import pyarrow.compute as pc

from spotify_assets.transforms import schema


def primary_key_problems(table_name: str, table: pa.Table) -> list[str]:
    """Null or repeated primary keys; for a table keyed by the partition alone, more than one
    row."""
    key = list(schema.PRIMARY_KEYS[table_name])
    if not key:
        return [f"{table.num_rows} rows, where a partition has one"] if table.num_rows > 1 else []
    problems = [
        f"{null_count} rows with a null {column}"
        for column in key
        if (null_count := table.column(column).null_count)
    ]
    counts = table.group_by(key).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if repeated.num_rows:
        examples = repeated.select(key).slice(0, 5).to_pylist()
        problems.append(f"{repeated.num_rows} repeated keys, e.g. {examples}")
    return problems


def foreign_key_problems(table_name: str, tables: dict[str, pa.Table]) -> list[str]:
    """Non-null foreign keys of ``table_name`` that name no row of the table they refer to."""
    problems = []
    for (source, column), (target, target_column) in schema.FOREIGN_KEYS.items():
        if source != table_name:
            continue
        values = pc.drop_null(tables[source].column(column))
        missing = pc.filter(
            values, pc.invert(pc.is_in(values, tables[target].column(target_column)))
        )
        if len(missing):
            examples = sorted(set(missing.to_pylist()))[:5]
            problems.append(
                f"{len(missing)} {column} values not in {target}.{target_column}, e.g. {examples}"
            )
    return problems


def entry_count_problems(entries: pa.Table, total: object) -> list[str]:
    """The playlist's ``total`` against the entries collected."""
    if total is None:
        return ["the playlist document has no total"]
    # normalize refuses such a total; a check that compared "31" with 31 would say 31 != 31.
    if not isinstance(total, int) or isinstance(total, bool):
        return [f"the playlist's total is {total!r} ({type(total).__name__}), not an integer"]
    if entries.num_rows != total:
        return [f"{entries.num_rows} entries, but the playlist says total = {total}"]
    return []


CHECK_PRIMARY_KEY = "primary_key_unique_and_not_null"
CHECK_FOREIGN_KEYS = "foreign_keys_resolve"
CHECK_ENTRY_COUNT = "entries_match_playlist_total"
# The normalized tables' blocking checks, as (table, check name). The raw layer evaluates them
# too, on the tables in memory, so a document whose tables would fail them never replaces a
# stored one.
BLOCKING_CHECKS = [
    *((table, CHECK_PRIMARY_KEY) for table in schema.TABLE_SCHEMAS),
    *(
        (table, CHECK_FOREIGN_KEYS)
        for table in sorted({source for source, _ in schema.FOREIGN_KEYS})
    ),
    ("playlist_entries", CHECK_ENTRY_COUNT),
]


def blocking_check_problems(
    tables: dict[str, pa.Table], total: int | None
) -> dict[tuple[str, str], list[str]]:
    """The problems each blocking check finds in one partition's tables; empty lists pass."""
    problems = {}
    for table, check_name in BLOCKING_CHECKS:
        if check_name == CHECK_PRIMARY_KEY:
            problems[table, check_name] = primary_key_problems(table, tables[table])
        elif check_name == CHECK_FOREIGN_KEYS:
            problems[table, check_name] = foreign_key_problems(table, tables)
        else:
            problems[table, check_name] = entry_count_problems(tables[table], total)
    return problems


def check_failures(where: str, problems: dict[tuple[str, str], list[str]]) -> str | None:
    """The checks that failed, as one line naming each with its problems and its table, after
    ``where``; None if every check passed."""
    failures = [
        f"{check_name} failed: {'; '.join(found)} (normalized/{table})"
        for (table, check_name), found in problems.items()
        if found
    ]
    return f"{where}: {'; '.join(failures)}" if failures else None


# A playlist that loses more than this share of its items in a week gets a warning (not a
# failure: an owner may well empty a playlist on purpose).
LOST_SHARE_WARNING = 0.5


def lost_share(summary: dict) -> float | None:
    """The share of the previous snapshot's items (by URI) that a week's ``weekly_summary`` row
    no longer has: ``removed / (entries - added + removed)``; None without a previous snapshot
    or with nothing in it."""
    removed, added, entries = (summary.get(name) for name in ("removed", "added", "entries"))
    if removed is None or added is None:
        return None
    previous = (entries or 0) - added + removed
    return removed / previous if previous > 0 else None


def lost_tracks_problem(where: str, summary: dict, limit: float = LOST_SHARE_WARNING) -> str | None:
    """What the warning says when a week lost more than ``limit`` of the previous items."""
    share = lost_share(summary)
    if share is None or share <= limit:
        return None
    return (
        f"{where}: {summary['removed']} of the previous snapshot's items are gone ({share:.0%}, "
        f"more than {limit:.0%})"
    )
