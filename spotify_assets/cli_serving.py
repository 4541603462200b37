"""``spotify-assets serving verify|rebuild``: the serving store against a build from scratch, in
chronological order, from the lake (the rule of :mod:`spotify_assets.io_managers.serving`)."""

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from spotify_assets import constants, deployment
from spotify_assets.io_managers.serving import (
    SERVING_ORDER,
    ServingStore,
    ServingWriter,
    plain_rows,
    store_state,
)
from spotify_assets.sql.lake import object_store_root
from spotify_assets.transforms import schema
from spotify_assets.transforms.serving_state import (
    ENTITY_KEYS,
    KEY_COLUMNS,
    PLAYLISTS,
    ServingState,
    chronological_build,
)

SHOWN_PER_TABLE = 10


def _partition_files(object_store, table: str) -> list:
    """The Parquet files of a normalized table, local or in S3 (one listing per 1,000)."""
    folder = object_store_root(object_store) / constants.NORMALIZED / table
    if not hasattr(object_store, "s3"):
        return sorted(folder.glob(f"{constants.WEEK}=*/{constants.PLAYLIST}=*/*.parquet"))
    pages = object_store.s3.get_paginator("list_objects_v2").paginate(
        Bucket=object_store.bucket, Prefix=object_store.key(folder) + "/"
    )
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return sorted(
        folder / key.split(f"/{table}/", 1)[1] for key in keys if key.endswith(".parquet")
    )


def lake_partitions(object_store) -> Iterator[tuple[str, str, dict[str, list[dict]]]]:
    """``(playlist_id, week, {table: rows})`` for every partition of the normalized lake of an
    object-store IO manager (local or S3), with the serving tables' rows as plain values."""
    found: dict[tuple[str, str], dict[str, list[dict]]] = {}
    for table in SERVING_ORDER:
        for path in _partition_files(object_store, table):
            week = path.parent.parent.name.split("=", 1)[1]
            playlist_id = path.parent.name.split("=", 1)[1]
            data = pa.BufferReader(object_store.read_bytes(path))
            rows = plain_rows(pq.read_table(data, schema=schema.TABLE_SCHEMAS[table]))
            found.setdefault((playlist_id, week), {})[table] = rows
    for (playlist_id, week), tables in sorted(found.items()):
        yield playlist_id, week, tables


def differences(expected: ServingState, served: ServingState) -> list[str]:
    """What the store serves that the chronological build does not, table by table."""
    found = []
    keyed = {table: (expected.entities[table], served.entities[table]) for table in ENTITY_KEYS}
    keyed[PLAYLISTS] = (expected.playlists, served.playlists)
    for table, (want, have) in keyed.items():
        key = KEY_COLUMNS[table]
        problems = [f"{table} {k}: in the lake, not served" for k in sorted(want.keys() - have)]
        problems += [f"{table} {k}: served, in no partition" for k in sorted(have.keys() - want)]
        for k in sorted(want.keys() & have.keys()):
            columns = [c for c in want[k] if want[k][c] != have[k].get(c)]
            if columns:
                changes = ", ".join(
                    f"{c} {have[k].get(c)!r} (lake: {want[k][c]!r})" for c in columns
                )
                problems.append(f"{table} {key}={k}: {changes}")
        found += problems[:SHOWN_PER_TABLE]
        if len(problems) > SHOWN_PER_TABLE:
            found.append(f"{table}: {len(problems) - SHOWN_PER_TABLE} more")
    for playlist_id in sorted(expected.entries.keys() | served.entries.keys()):
        want_entries, have_entries = (
            expected.entries.get(playlist_id),
            served.entries.get(playlist_id),
        )
        if want_entries == have_entries:
            continue
        if have_entries is None or want_entries is None:
            where = "not served" if have_entries is None else "served, not in the lake"
            found.append(f"playlist_entries of {playlist_id}: {where}")
            continue
        (want_week, want_rows, want_snapshot), (have_week, have_rows, have_snapshot) = (
            want_entries,
            have_entries,
        )
        if want_week != have_week:
            found.append(f"playlist_entries of {playlist_id}: week {have_week} (lake: {want_week})")
        elif want_snapshot != have_snapshot:
            found.append(
                f"playlist_entries of {playlist_id}: {have_snapshot} (lake: {want_snapshot})"
            )
        else:
            position = next(
                (i for i, (a, b) in enumerate(zip(want_rows, have_rows, strict=False)) if a != b),
                min(len(want_rows), len(have_rows)),
            )
            found.append(
                f"playlist_entries of {playlist_id}: {len(have_rows)} entries (lake: "
                f"{len(want_rows)}), the first difference at position {position}"
            )
    return found


def rebuild(store: ServingStore, partitions) -> int:
    """Empties the store and serves every partition in chronological order; returns how many."""
    store.clear()
    writer = ServingWriter(store)
    partitions = sorted(partitions, key=lambda partition: (partition[1], partition[0]))
    for playlist_id, week, tables in partitions:
        for table in SERVING_ORDER:
            if table in tables:
                writer.write(table, playlist_id, week, tables[table])
    return len(partitions)


def _store_and_lake():
    resources = deployment.resources()
    store = resources["serving_store"].create_io_manager(None).store
    return store, list(lake_partitions(resources["object_store"].create_io_manager(None)))


def run_verify(args) -> int:
    store, partitions = _store_and_lake()
    found = differences(chronological_build(partitions), store_state(store))
    for line in found:
        print(line)
    if found:
        print(
            f"the serving store differs from a chronological build of the lake's "
            f"{len(partitions)} partitions; `spotify-assets serving rebuild` rebuilds it"
        )
        return 1
    print(
        f"the serving store equals a chronological build of the lake's {len(partitions)} partitions"
    )
    return 0


def run_rebuild(args) -> int:
    store, partitions = _store_and_lake()
    count = rebuild(store, partitions)
    found = differences(chronological_build(partitions), store_state(store))
    print(f"rebuilt the serving store from the lake's {count} partitions")
    for line in found:
        print(line)
    return 1 if found else 0


def register(subcommands) -> None:
    parser = subcommands.add_parser(
        "serving",
        help="check the serving store against the lake, or rebuild it from the lake",
        description=(
            "The serving store equals what a build from scratch, in chronological order, from "
            "the lake would produce. `verify` compares them and prints the differences (exit 1 "
            "if any); `rebuild` empties the store and serves every partition of the lake again."
        ),
    )
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "verify", help="print how the serving store differs from the lake"
    ).set_defaults(run=run_verify)
    actions.add_parser("rebuild", help="rebuild the serving store from the lake").set_defaults(
        run=run_rebuild
    )
