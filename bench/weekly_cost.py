"""What a week of snapshots costs in AWS, measured on moto's server in the process: generated
playlists of 100 entries, about 10% replaced each week, each playlist-week run through the
weekly snapshot's assets (raw, normalized, serving) in the aws deployment, chronologically, then
an unchanged week. Every DynamoDB and S3 call of those runs is counted at the client.

``weekly_cost_figures()`` returns figures as ``(name, value, target, unit, comparison)``, like
``bench/serving.py``; ``python bench/weekly_cost.py`` prints them.

How units are counted (DynamoDB's published rules, applied to the items moto holds before and
after each call; sizes by ``item_size``, an upper bound: a number counts 21 bytes):
- a write costs 1 unit per started KB of the larger of the item before and after it (a delete:
  the item deleted), twice in a TransactWriteItems, where a ConditionCheck (the lease check)
  counts as a write of the item checked;
- each secondary index the write changes costs the index item's size again (every index here
  projects every attribute), twice when the item's index key changes (a delete and a put); index
  writes are counted once even inside a transaction;
- a GetItem or each key of a BatchGetItem costs 1 unit per started 4 KB of the whole item
  (projections do not reduce it; a missing item costs 1), a Query or Scan page 1 unit per
  started 4 KB of the items it returns (at least 1); half of that when eventually consistent.
"""

import collections
import json
import logging
import math
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

KB = 1024
READ_UNIT_BYTES = 4 * KB
ENTRIES_PER_PLAYLIST = 100
WEEKLY_CHURN = 0.10
CHANGING_WEEKS = 8  # the first week, then seven of churn
MOTO_ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"
BUCKET = "spotify-assets-bench"
S3_PREFIX = "lake"
TABLE_PREFIX = "bench_"

# What each table holds, as the figures group them.
TABLE_GROUPS = {
    "artists": "entities",
    "albums": "entities",
    "songs": "entities",
    "playlists": "playlists",
    "playlist_entries": "entries",
    "leases": "bookkeeping",
    "playlist_versions": "bookkeeping",
    "playlist_keys": "bookkeeping",
}
SINGLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
# S3's request classes as billed: PUT, COPY, POST and LIST at one price, GET at another.
S3_PUT_CLASS = {
    "PutObject",
    "CopyObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "ListObjects",
    "ListObjectsV2",
    "ListBuckets",
}
S3_GET_CLASS = {"GetObject", "HeadObject", "SelectObjectContent"}
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload", "HeadBucket"}


class AwsUsage:
    """What the counted clients used, by table: write units (table and index apart), items
    written, read units (strongly and eventually consistent apart); S3 requests by class."""

    def __init__(self):
        self.lock = threading.Lock()
        self.write_units: collections.Counter = collections.Counter()
        self.index_write_units: collections.Counter = collections.Counter()
        self.items_written: collections.Counter = collections.Counter()
        self.strong_read_units: collections.Counter = collections.Counter()
        self.eventual_read_units: collections.Counter = collections.Counter()
        self.s3_requests: collections.Counter = collections.Counter()
        self.failed_writes = 0

    def snapshot(self) -> dict:
        """A copy of every counter, to subtract from a later one."""
        with self.lock:
            return {
                name: collections.Counter(getattr(self, name))
                for name in (
                    "write_units",
                    "index_write_units",
                    "items_written",
                    "strong_read_units",
                    "eventual_read_units",
                    "s3_requests",
                )
            }


def index_key(item: dict | None, names: list[str]) -> list | None:
    """An item's key in an index, or None when it is not in it (a sparse index)."""
    if item is None or any(name not in item for name in names):
        return None
    return [item[name] for name in names]


def table_of(name: str) -> str:
    return name.removeprefix(TABLE_PREFIX)


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int) -> int:
    return max(1, math.ceil(size / READ_UNIT_BYTES))


class DynamoDBMeter:
    """botocore hooks that price each DynamoDB call from the items moto holds."""

    def __init__(self, usage: AwsUsage):
        from moto.backends import get_backend

        from spotify_assets.aws.tables import ALL_TABLES

        self.usage = usage
        self.backend = get_backend("dynamodb")[MOTO_ACCOUNT][REGION]
        self.tables = ALL_TABLES

    def stored_item(self, table_name: str, key: dict) -> dict | None:
        """The item moto holds under ``key`` (wire format), or None."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        definition = self.tables[table_of(table_name)]
        table = self.backend.get_table(table_name)
        hash_key = DynamoType(key[definition.partition_key.name])
        range_key = DynamoType(key[definition.sort_key.name]) if definition.sort_key else None
        item = table.get_item(hash_key, range_key)
        return item.to_json()["Attributes"] if item else None

    def key_of(self, table_name: str, item: dict) -> dict:
        return {name: item[name] for name in self.tables[table_of(table_name)].key_names}

    def targets(self, operation: str, params: dict) -> list[tuple[str, str, dict, bool]]:
        """Each item a write call touches: ``(kind, table name, key, in a transaction)``."""
        if operation in SINGLE_WRITES:
            body = params
            key = body.get("Key") or self.key_of(body["TableName"], body["Item"])
            return [(operation, body["TableName"], key, False)]
        if operation == "TransactWriteItems":
            targets = []
            for action in params["TransactItems"]:
                [(kind, body)] = action.items()
                key = body.get("Key") or self.key_of(body["TableName"], body["Item"])
                targets.append((kind, body["TableName"], key, True))
            return targets
        return []

    def before_call(self, model, params, context, **_):
        context["weekly_cost_params"] = params
        targets = self.targets(model.name, params)
        if targets:
            context["weekly_cost_before"] = [
                (kind, name, key, transactional, self.stored_item(name, key))
                for kind, name, key, transactional in targets
            ]

    def after_call(self, http_response, parsed, model, context, **_):
        if "weekly_cost_before" in context:
            self.count_writes(parsed, context.pop("weekly_cost_before"))
        elif model.name in ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"):
            self.count_reads(model.name, context["weekly_cost_params"], parsed)

    def count_writes(self, parsed: dict, befores: list) -> None:
        if "Error" in parsed:
            with self.usage.lock:
                self.usage.failed_writes += 1
            return
        for kind, name, key, transactional, before in befores:
            table = table_of(name)
            after = self.stored_item(name, key)
            if kind == "ConditionCheck":
                units = write_units(item_size(before or key))
            else:
                larger = max(item_size(before or {}), item_size(after or {}))
                units = write_units(larger)
            with self.usage.lock:
                self.usage.write_units[table] += units * (2 if transactional else 1)
                if kind != "ConditionCheck":
                    self.usage.items_written[table] += 1
                    self.usage.index_write_units[table] += self.index_units(table, before, after)

    def index_units(self, table: str, before: dict | None, after: dict | None) -> int:
        units = 0
        for index in self.tables[table].indexes:
            names = [key.name for key in index.keys if key is not None]
            old, new = index_key(before, names), index_key(after, names)
            if old is not None and new is not None:
                if old != new:
                    units += write_units(item_size(before)) + write_units(item_size(after))
                elif before != after:
                    units += write_units(item_size(after))
            elif old is not None:
                units += write_units(item_size(before))
            elif new is not None:
                units += write_units(item_size(after))
        return units

    def count_reads(self, operation: str, params: dict, parsed: dict) -> None:
        if "Error" in parsed:
            return
        charges: list[tuple[str, float, bool]] = []  # (table, units, strongly consistent)
        if operation == "GetItem":
            item = self.stored_item(params["TableName"], params["Key"])
            units = read_units(item_size(item or {}))
            charges.append((params["TableName"], units, bool(params.get("ConsistentRead"))))
        elif operation == "BatchGetItem":
            for name, request in params["RequestItems"].items():
                for key in request["Keys"]:
                    units = read_units(item_size(self.stored_item(name, key) or {}))
                    charges.append((name, units, bool(request.get("ConsistentRead"))))
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
            charges.append((params["TableName"], read_units(size), consistent))
        elif operation == "TransactGetItems":
            for action in params["TransactItems"]:
                body = action["Get"]
                units = 2 * read_units(item_size(self.stored_item(body["TableName"], body["Key"])))
                charges.append((body["TableName"], units, True))
        with self.usage.lock:
            for name, units, consistent in charges:
                counter = (
                    self.usage.strong_read_units if consistent else self.usage.eventual_read_units
                )
                counter[table_of(name)] += units if consistent else units / 2


def item_size(item: dict) -> int:
    from spotify_assets.io_managers.dynamodb import item_size as dynamodb_item_size

    return dynamodb_item_size(item)


@contextmanager
def counted_clients(usage: AwsUsage):
    """Every botocore client created inside counts its DynamoDB units and S3 requests."""
    import botocore.session

    meter = DynamoDBMeter(usage)

    def count_s3(model, **_):
        if model.name in S3_PUT_CLASS:
            request_class = "PUT, COPY, POST, LIST"
        elif model.name in S3_GET_CLASS:
            request_class = "GET"
        elif model.name in S3_FREE:
            request_class = "free"
        else:
            request_class = f"other ({model.name})"
        with usage.lock:
            usage.s3_requests[request_class] += 1
            usage.s3_requests[model.name] += 1

    create_client = botocore.session.Session.create_client

    def counting_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        service = client.meta.service_model.service_name
        if service == "dynamodb":
            # The API's parameters, not the serialized request that before-call is given.
            client.meta.events.register("before-parameter-build.dynamodb.*", meter.before_call)
            client.meta.events.register("after-call.dynamodb.*", meter.after_call)
        elif service == "s3":
            client.meta.events.register("before-call.s3.*", count_s3)
        return client

    botocore.session.Session.create_client = counting_client
    try:
        yield
    finally:
        botocore.session.Session.create_client = create_client


@contextmanager
def aws_on_moto():
    """moto's server on 127.0.0.1 and the aws deployment's environment pointed at it, as the
    end-to-end tests set it (``spotify_assets_tests/aws_fixtures.py``); restored afterwards."""
    from moto.server import ThreadedMotoServer

    from spotify_assets import constants

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        constants.ENV_DEPLOYMENT: "aws",
        constants.ENV_S3_BUCKET: BUCKET,
        constants.ENV_S3_PREFIX: S3_PREFIX,
        constants.ENV_DYNAMODB_TABLE_PREFIX: TABLE_PREFIX,
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def weekly_recordings(replay_dir: Path, playlists: int) -> tuple[list[str], list[str]]:
    """Writes ``playlists`` generated playlists of 100 entries as replay recordings: a first
    week, seven weeks of about 10% replaced each, then a week identical to the last (snapshot
    id included). Returns the playlist ids and the weeks."""
    from spotify_assets.sources.sample_generator import (
        SAMPLE_WEEKS,
        churn,
        dumps,
        synthetic_playlist,
    )

    weeks = SAMPLE_WEEKS[: CHANGING_WEEKS + 1]  # inside every deployment's weekly partitions
    playlist_ids = []
    for seed in range(playlists):
        playlist = synthetic_playlist(ENTRIES_PER_PLAYLIST, seed=seed)
        playlist_ids.append(playlist["id"])
        folder = replay_dir / playlist["id"]
        folder.mkdir(parents=True)
        for number, week in enumerate(weeks):
            if 0 < number < CHANGING_WEEKS:
                playlist = churn(playlist, WEEKLY_CHURN, seed=number)
            (folder / f"{week}.json").write_bytes(dumps(playlist))
    return playlist_ids, list(weeks)


def difference(after: dict, before: dict) -> dict:
    return {name: after[name] - before[name] for name in after}


def grouped(counter: collections.Counter) -> collections.Counter:
    groups: collections.Counter = collections.Counter()
    for table, value in counter.items():
        groups[TABLE_GROUPS.get(table, table)] += value
    return groups


def measure_weeks(playlists: int = 3) -> dict:
    """Runs every playlist-week through the weekly snapshot's assets on moto; returns what the
    first week, the changing weeks after it and the unchanged week used (sums over playlists),
    the S3 bytes stored and the seconds each run took."""
    import dagster as dg

    from spotify_assets import constants, deployment
    from spotify_assets.assets import all_assets
    from spotify_assets.aws.storage import create_bucket, create_tables
    from spotify_assets.playlist_partitions import add_playlists
    from spotify_assets.sources import ReplaySource

    layers = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)
    usage = AwsUsage()
    phases = {}
    run_seconds = []
    with (
        tempfile.TemporaryDirectory() as folder,
        aws_on_moto(),
        dg.instance_for_test() as instance,
    ):
        replay_dir = Path(folder) / "replay"
        playlist_ids, weeks = weekly_recordings(replay_dir, playlists)
        add_playlists(instance, playlist_ids)
        create_tables(deployment.dynamodb_resource().get_client(), TABLE_PREFIX)
        create_bucket(deployment.s3_resource().get_client(), BUCKET)
        lister = deployment.s3_resource().get_client()  # created uncounted

        def bytes_stored() -> int:
            return sum(
                item["Size"]
                for page in lister.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
                for item in page.get("Contents", [])
            )

        resources = {
            **deployment.aws_resources(),
            "playlist_source": ReplaySource(replay_dir=str(replay_dir)),
        }
        with counted_clients(usage):
            phase_weeks = {
                "first week": weeks[:1],
                "changing weeks": weeks[1:CHANGING_WEEKS],
                "unchanged week": weeks[CHANGING_WEEKS:],
            }
            for phase, these_weeks in phase_weeks.items():
                before = usage.snapshot()
                stored_before = bytes_stored()
                for week in these_weeks:
                    for playlist_id in playlist_ids:
                        partition_key = dg.MultiPartitionKey(
                            {constants.WEEK: week, constants.PLAYLIST: playlist_id}
                        )
                        started = time.perf_counter()
                        result = dg.materialize(
                            all_assets,
                            selection=layers,
                            partition_key=partition_key,
                            resources=resources,
                            instance=instance,
                        )
                        run_seconds.append(time.perf_counter() - started)
                        if not result.success:
                            raise RuntimeError(f"the run of {partition_key} failed")
                phases[phase] = {
                    "partitions": len(these_weeks) * len(playlist_ids),
                    "s3_bytes_added": bytes_stored() - stored_before,
                    **difference(usage.snapshot(), before),
                }
    return {
        "phases": phases,
        "failed_writes": usage.failed_writes,
        "run_seconds": run_seconds,
    }


def weekly_cost_figures(playlists: int = 3) -> list[tuple]:
    """Per playlist-week, measured: DynamoDB write and read units and items written by table
    group, and S3 requests, for the first week, a week of 10% churn (the seven after the first,
    averaged) and an unchanged week."""
    measured = measure_weeks(playlists)
    figures = []
    for phase, used in measured["phases"].items():
        per = used["partitions"]
        label = "steady-state week (10% replaced)" if phase == "changing weeks" else phase
        writes = grouped(used["write_units"])
        index_writes = grouped(used["index_write_units"])
        items = grouped(used["items_written"])
        strong = grouped(used["strong_read_units"])
        eventual = grouped(used["eventual_read_units"])
        for group in ("entities", "playlists", "entries", "bookkeeping"):
            figures += [
                (f"{label}, {group}: items written", items[group] / per, None, "", "<="),
                (f"{label}, {group}: table write units", writes[group] / per, None, "WRU", "<="),
                (
                    f"{label}, {group}: index write units",
                    index_writes[group] / per,
                    None,
                    "WRU",
                    "<=",
                ),
                (
                    f"{label}, {group}: read units (strong + eventual)",
                    (strong[group] + eventual[group]) / per,
                    None,
                    "RRU",
                    "<=",
                ),
            ]
        for table in sorted(set(used["write_units"]) | set(used["strong_read_units"])):
            figures.append(
                (
                    f"{label}, table {table}: items / WRU (+ index) / RRU strong + eventual",
                    json.dumps(
                        [
                            used["items_written"][table] / per,
                            used["write_units"][table] / per,
                            used["index_write_units"][table] / per,
                            used["strong_read_units"][table] / per,
                            used["eventual_read_units"][table] / per,
                        ]
                    ),
                    None,
                    "",
                    "",
                )
            )
        total_writes = sum(used["write_units"].values()) + sum(used["index_write_units"].values())
        total_reads = sum(used["strong_read_units"].values()) + sum(
            used["eventual_read_units"].values()
        )
        figures += [
            (f"{label}: DynamoDB write units", total_writes / per, None, "WRU", "<="),
            (f"{label}: DynamoDB read units", total_reads / per, None, "RRU", "<="),
            (
                f"{label}: S3 PUT, COPY, POST, LIST requests",
                used["s3_requests"]["PUT, COPY, POST, LIST"] / per,
                None,
                "",
                "<=",
            ),
            (f"{label}: S3 GET requests", used["s3_requests"]["GET"] / per, None, "", "<="),
            (f"{label}: S3 bytes added", used["s3_bytes_added"] / per, None, "B", "<="),
            (
                f"{label}: S3 requests by operation",
                json.dumps(
                    {
                        name: count / per
                        for name, count in sorted(used["s3_requests"].items())
                        if name[0].isupper() and " " not in name
                    }
                ),
                None,
                "",
                "",
            ),
        ]
    figures += [
        ("failed DynamoDB writes", measured["failed_writes"], 0, "", "=="),
        (
            "one partition's run in the process (raw to serving), median",
            sorted(measured["run_seconds"])[len(measured["run_seconds"]) // 2],
            None,
            "s",
            "<=",
        ),
    ]
    return figures


def after_a_year_figures(weeks: int = 52) -> list[tuple]:
    """What a week of 10% churn costs one playlist in DynamoDB after ``weeks`` weeks, against
    its second week: the playlist's record keeps every week it served, so its item grows. Served
    through the serving store itself (no Dagster run, no S3), chronologically."""
    import datetime as dt

    import boto3

    from spotify_assets.aws.storage import create_tables
    from spotify_assets.io_managers.dynamodb import DynamoDBServingStore
    from spotify_assets.io_managers.serving import SERVING_ORDER, ServingWriter, plain_rows
    from spotify_assets.sources.sample_generator import churn, synthetic_playlist
    from spotify_assets.transforms import normalize_playlist

    usage = AwsUsage()
    first_monday = dt.date(2025, 11, 10)
    per_week = []
    with aws_on_moto(), counted_clients(usage):
        client = boto3.client("dynamodb", region_name=REGION)
        create_tables(client, TABLE_PREFIX)
        writer = ServingWriter(DynamoDBServingStore(client, TABLE_PREFIX))
        playlist = synthetic_playlist(ENTRIES_PER_PLAYLIST, seed=0)
        for number in range(weeks):
            week = (first_monday + dt.timedelta(weeks=number)).isoformat()
            if number:
                playlist = churn(playlist, WEEKLY_CHURN, seed=number)
            tables = normalize_playlist(playlist, week=week)
            before = usage.snapshot()
            for table in SERVING_ORDER:
                writer.write(table, playlist["id"], week, plain_rows(tables[table]))
            per_week.append(difference(usage.snapshot(), before))
        record = client.get_item(
            TableName=f"{TABLE_PREFIX}playlist_versions",
            Key={"playlist_id": {"S": playlist["id"]}},
        )["Item"]
    figures = []
    for label, used in (("week 2", per_week[1]), (f"week {weeks}", per_week[-1])):
        writes = grouped(used["write_units"]) + grouped(used["index_write_units"])
        reads = grouped(used["strong_read_units"]) + grouped(used["eventual_read_units"])
        for group in ("entities", "playlists", "entries", "bookkeeping"):
            figures += [
                (f"one playlist, {label}, {group}: write units", writes[group], None, "WRU", "<="),
                (f"one playlist, {label}, {group}: read units", reads[group], None, "RRU", "<="),
            ]
        figures.append(
            (
                f"one playlist, {label}: write / read units",
                f"{sum(writes.values()):g} / {sum(reads.values()):g}",
                None,
                "",
                "",
            )
        )
    figures.append(
        (f"the playlist's record item after {weeks} weeks", item_size(record), None, "B", "<=")
    )
    return figures


if __name__ == "__main__":
    for figure in weekly_cost_figures() + after_a_year_figures():
        print(figure)
