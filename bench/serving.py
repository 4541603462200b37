"""What the serving store writes, on SQLite and on DynamoDB (moto's server): a 1,000-entry
playlist's edit weeks, and the sample's whole history served in chronological, reverse and
shuffled order. Called by ``bench/run.py --only serving``; each function returns figures as
``(name, value, target, unit, comparison)``. ``python bench/serving.py`` prints them."""

import collections
import logging
import random
import tempfile
from contextlib import contextmanager
from pathlib import Path

WRITE_OPERATIONS = ("PutItem", "DeleteItem", "UpdateItem")
KB = 1024


@contextmanager
def moto_dynamodb():
    """A DynamoDB client of moto's server on 127.0.0.1, whose writes are counted by table:
    ``client.items[table]`` items and ``client.units[table]`` write units (1 KB each, twice in
    a transaction)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from spotify_assets.io_managers.dynamodb import item_size

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://{host}:{port}",
            region_name="eu-west-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        items: collections.Counter = collections.Counter()
        units: collections.Counter = collections.Counter()

        def units_of(action: dict) -> int:
            body = action.get("Item") or action.get("Key") or {}
            return max(1, -(-item_size(body) // KB))

        def count(model, params, **_):
            if model.name in WRITE_OPERATIONS:
                items[params["TableName"]] += 1
                units[params["TableName"]] += units_of(params)
            elif model.name == "TransactWriteItems":
                for action in params["TransactItems"]:
                    [(kind, body)] = action.items()
                    if kind != "ConditionCheck":
                        items[body["TableName"]] += 1
                        units[body["TableName"]] += 2 * units_of(body)

        client.meta.events.register("before-parameter-build.dynamodb", count)
        client.items, client.units = items, units
        yield client
    finally:
        server.stop()


def edit_weeks(count: int) -> list[tuple[str, list[str], int]]:
    """A playlist of ``count`` tracks, then one inserted at the top, the last moved to the top,
    two swapped, and 10% replaced in place: ``(case, track ids, entries that changed)``."""
    tracks = [f"t{n:05}" for n in range(count)]
    weeks = [("first load", tracks, count)]
    weeks.append(("one inserted at the top", ["new", *tracks], 1))
    moved = weeks[-1][1]
    weeks.append(("the last moved to the top", [moved[-1], *moved[:-1]], 1))
    swapped = list(weeks[-1][1])
    swapped[10], swapped[count // 2] = swapped[count // 2], swapped[10]
    weeks.append(("two swapped", swapped, 2))
    churned = list(swapped)
    replaced = range(0, len(churned), 10)
    for index in replaced:
        churned[index] = f"churn{index}"
    weeks.append(("10% replaced", churned, len(replaced)))
    return weeks


def entry_rows(track_ids: list[str], week: str) -> list[dict]:
    return [
        {
            "position": position,
            "item_type": "track",
            "song_id": track,
            "playable_song_id": None,
            "uri": f"spotify:track:{track}",
            "name": track,
            "duration_ms": 200_000,
            "added_at": 1_700_000_000_000,
            "added_by": "owner",
            "snapshot_id": f"snapshot {week}",
        }
        for position, track in enumerate(track_ids)
    ]


def bench_entry_edits(count: int) -> list[tuple]:
    """Items and write units a week of edits costs a ``count``-entry playlist on DynamoDB, and
    rows on SQLite: an insertion, a move, a swap, 10% churn."""
    from spotify_assets import constants
    from spotify_assets.aws.storage import create_tables
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore
    from spotify_assets.io_managers.serving import ServingWriter, SQLiteServingStore

    table = constants.PLAYLIST_ENTRIES
    figures = []
    with moto_dynamodb() as client, tempfile.TemporaryDirectory() as folder:
        create_tables(client, "bench_")
        dynamodb = ServingWriter(DynamoDBServingStore(client, "bench_"))
        sqlite = ServingWriter(SQLiteServingStore(Path(folder) / "serving.sqlite"))
        for number, (case, tracks, changed) in enumerate(edit_weeks(count)):
            week = f"2026-{number + 1:02}-05"
            client.items.clear()
            client.units.clear()
            dynamodb.write(table, "bench", week, entry_rows(tracks, week))
            written = sqlite.write(table, "bench", week, entry_rows(tracks, week))
            entries = client.items["bench_playlist_entries"]
            bound = changed if changed <= 98 else 2 * changed
            figures += [
                (f"entries, {case}: entries changed", changed, None, "", "<="),
                (f"entries, {case}: DynamoDB entry items written", entries, bound, "", "<="),
                (
                    f"entries, {case}: DynamoDB version items written",
                    client.items["bench_playlist_versions"],
                    1,
                    "",
                    "<=",
                ),
                (
                    f"entries, {case}: DynamoDB write units (entries and version)",
                    client.units["bench_playlist_entries"]
                    + client.units["bench_playlist_versions"],
                    None,
                    "WCU",
                    "<=",
                ),
                (
                    f"entries, {case}: SQLite rows written",
                    written.written + written.deleted,
                    changed,
                    "",
                    "<=",
                ),
            ]
    return figures


def sample_history() -> list[tuple[str, str, dict]]:
    """Every partition of the sample recordings, normalized: ``(playlist, week, tables)``."""
    from spotify_assets.io_managers.serving import SERVING_ORDER, plain_rows
    from spotify_assets.sources import SAMPLE_DATA_DIR
    from spotify_assets.sources.replay import (
        read_replay_file,
        recorded_weeks,
        replay_playlist_ids,
    )
    from spotify_assets.transforms import normalize_playlist

    partitions = []
    for playlist_id in replay_playlist_ids(SAMPLE_DATA_DIR):
        for week in recorded_weeks(SAMPLE_DATA_DIR, playlist_id):
            document = read_replay_file(SAMPLE_DATA_DIR, playlist_id, week).playlist
            tables = normalize_playlist(document, week=week)
            partitions.append(
                (playlist_id, week, {t: plain_rows(tables[t]) for t in SERVING_ORDER})
            )
    return partitions


def bench_order_independence(with_dynamodb: bool = True) -> list[tuple]:
    """What order-independence costs: the sample's whole history served in chronological,
    reverse and shuffled order, rows (SQLite) and items (DynamoDB) written, and whether every
    order ends in the chronological build."""
    from spotify_assets.aws.storage import create_tables
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore
    from spotify_assets.io_managers.serving import (
        SERVING_ORDER,
        ServingWriter,
        SQLiteServingStore,
        store_state,
    )
    from spotify_assets.transforms.serving_state import chronological_build

    partitions = sample_history()
    chronological = sorted(partitions, key=lambda p: (p[1], p[0]))
    shuffled = list(chronological)
    random.Random(5).shuffle(shuffled)
    orders = {
        "chronological": chronological,
        "reverse": chronological[::-1],
        "shuffled": shuffled,
    }
    expected = chronological_build(partitions)
    figures = []
    rows = {}
    items = {}
    with moto_dynamodb() as client, tempfile.TemporaryDirectory() as folder:
        for name, order in orders.items():
            sqlite = SQLiteServingStore(Path(folder) / f"{name}.sqlite")
            create_tables(client, f"{name}_")
            dynamodb = DynamoDBServingStore(client, f"{name}_")
            client.items.clear()
            rows[name] = 0
            for store in (sqlite, dynamodb) if with_dynamodb else (sqlite,):
                writer = ServingWriter(store)
                for playlist_id, week, tables in order:
                    for table in SERVING_ORDER:
                        summary = writer.write(table, playlist_id, week, tables[table])
                        if store is sqlite:
                            rows[name] += summary.written + summary.deleted
                state = store_state(store)
                same = (state.entities, state.entries, state.playlists) == (
                    expected.entities,
                    expected.entries,
                    expected.playlists,
                )
                backend = "SQLite" if store is sqlite else "DynamoDB"
                figures.append(
                    (
                        f"sample history {name}: {backend} equals the chronological build",
                        same,
                        True,
                        "",
                        "==",
                    )
                )
            figures.append(
                (f"sample history {name}: SQLite rows written", rows[name], None, "", "<=")
            )
            if not with_dynamodb:
                continue
            serving_items = sum(
                count
                for table, count in client.items.items()
                if table.removeprefix(f"{name}_") in SERVING_ORDER
            )
            items[name] = serving_items
            figures += [
                (
                    f"sample history {name}: DynamoDB serving items written",
                    serving_items,
                    None,
                    "",
                    "<=",
                ),
                (
                    f"sample history {name}: DynamoDB bookkeeping items written",
                    sum(client.items.values()) - serving_items,
                    None,
                    "",
                    "<=",
                ),
            ]
    for name in ("reverse", "shuffled"):
        figures.append(
            (
                f"sample history {name} / chronological: SQLite rows written",
                rows[name] / rows["chronological"],
                None,
                "x",
                "<=",
            )
        )
    return figures


if __name__ == "__main__":
    for figure in bench_entry_edits(1000) + bench_order_independence():
        print(figure)
