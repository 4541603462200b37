"""The pointer to each playlist's newest stored raw snapshot, which change detection reads instead
of Dagster's event log: right after any order of writes, one writer at a time, and never trusted
over the file it names. Local and S3 (moto's server) alike."""

import functools
import random
import threading
import time
from types import SimpleNamespace

import dagster as dg
import pytest
from upath import UPath

from spotify_assets import deployment
from spotify_assets.assets.raw import PLAYLIST_JSON, latest_stored_snapshot, playlist_json
from spotify_assets.io_managers import object_store
from spotify_assets.io_managers.object_store import ObjectStoreIOManager, strict_json
from spotify_assets.io_managers.s3 import S3ObjectStoreIOManager
from spotify_assets.partitions import week_playlist_partitions
from spotify_assets.playlist_partitions import add_playlists
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms.latest_snapshot import (
    LatestSnapshot,
    SnapshotReplaced,
    decode_pointer,
    digest,
    encode_pointer,
    supersedes,
)
from spotify_assets_tests.conftest import partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEKS = SAMPLE_WEEKS


class Killed(BaseException):
    """The process dying at this point: nothing after it runs, no handler catches it."""


def _killed(*args, **kwargs):
    raise Killed


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> ObjectStoreIOManager:
    if request.param == "local":
        return ObjectStoreIOManager(base_path=UPath(tmp_path / "data"))
    bucket = request.getfixturevalue("aws_storage").bucket
    return S3ObjectStoreIOManager(deployment.s3_resource().get_client(), bucket, "lake")


def _document(week: str, version: object, name: str = "a song") -> dict:
    return {
        "id": PLAYLIST,
        "snapshot_id": f"{week}/{version}",
        "items": {"items": [{"track": {"name": name}}], "total": 1},
    }


@functools.cache
def _instance() -> dg.DagsterInstance:
    """An instance whose playlist partitions hold the playlist: a run's context asks it."""
    instance = dg.DagsterInstance.ephemeral()
    add_playlists(instance, [PLAYLIST])
    return instance


def _store(store: ObjectStoreIOManager, week: str, document: dict) -> None:
    """Stores ``document`` as the week's ``raw/playlist_json``, as the end of a run does."""
    context = dg.build_output_context(
        asset_key=PLAYLIST_JSON,
        partition_key=partition(PLAYLIST, week),
        asset_partitions_def=week_playlist_partitions,
        definition_metadata=playlist_json.specs_by_key[PLAYLIST_JSON].metadata,
        instance=_instance(),
    )
    store.handle_output(context, document)


def _latest(store: ObjectStoreIOManager):
    """What the raw asset finds before it calls the source."""
    return latest_stored_snapshot(
        SimpleNamespace(resources=SimpleNamespace(object_store=store)), PLAYLIST
    )


# --- the rules, pure ---------------------------------------------------------------------------


def test_a_pointer_moves_only_to_a_week_at_least_as_new():
    current = LatestSnapshot("2026-09-14", "s", "d")
    assert supersedes(LatestSnapshot("2026-09-21", "t", "e"), current)
    assert supersedes(LatestSnapshot("2026-09-14", "t", "e"), current)  # a re-run of the week
    assert not supersedes(LatestSnapshot("2026-09-07", "t", "e"), current)  # a backfill
    assert supersedes(LatestSnapshot("2026-09-07", "t", "e"), None)


def test_a_pointer_that_cannot_be_read_is_no_pointer():
    pointer = LatestSnapshot("2026-09-14", "snap", digest(b"{}"))
    assert decode_pointer(encode_pointer(pointer)) == pointer
    assert pointer.describes(b"{}") and not pointer.describes(b"{} ")
    for damaged in (b"", b"{", b"[]", b'{"version": 1}', b'{"version": 2, "week": "x"}', None):
        assert decode_pointer(damaged) is None
    wrong_type = encode_pointer(pointer).replace(b'"snap"', b"7")
    assert decode_pointer(wrong_type) is None


# --- the object store, local and S3 ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_the_pointer_names_the_newest_week_after_any_order_of_writes(store, seed):
    rng = random.Random(seed)
    # Weeks in a random order, some written again (re-runs and backfills), some never.
    writes = rng.choices(WEEKS, k=rng.randrange(1, 2 * len(WEEKS)))
    stored: dict[str, dict] = {}
    for version, week in enumerate(writes):
        stored[week] = _document(week, version)
        _store(store, week, stored[week])

        latest = _latest(store)
        newest = max(stored)
        assert (latest.week, latest.snapshot_id) == (newest, stored[newest]["snapshot_id"])
        assert latest.load() == stored[newest]


def test_nothing_stored_is_no_latest_snapshot(store):
    assert _latest(store) is None


def test_a_writer_deciding_on_an_older_week_holds_back_one_of_a_newer_week(store, monkeypatch):
    # Without one writer at a time, the older week's writer reads the pointer, the newer week's
    # writes it, and the older one then moves it back.
    _store(store, WEEKS[0], _document(WEEKS[0], 0))
    deciding = threading.Event()

    def slow_to_decide(written, current):
        if written.week == WEEKS[1] and not deciding.is_set():
            deciding.set()
            time.sleep(0.5)
        return supersedes(written, current)

    monkeypatch.setattr(object_store, "supersedes", slow_to_decide)
    older = threading.Thread(target=_store, args=(store, WEEKS[1], _document(WEEKS[1], 1)))
    older.start()
    assert deciding.wait(10)
    _store(store, WEEKS[2], _document(WEEKS[2], 2))
    older.join()

    assert _latest(store).snapshot_id == f"{WEEKS[2]}/2"


def test_concurrent_writes_of_every_week_leave_the_newest(store):
    order = random.Random(7).sample(WEEKS, len(WEEKS))
    writers = [
        threading.Thread(target=_store, args=(store, week, _document(week, "concurrent")))
        for week in order
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    latest = _latest(store)
    assert (latest.week, latest.load()) == (WEEKS[-1], _document(WEEKS[-1], "concurrent"))


def test_a_first_write_killed_before_its_pointer_finds_nothing_to_reuse(store, monkeypatch):
    monkeypatch.setattr(ObjectStoreIOManager, "advance_latest_pointer", _killed)
    with pytest.raises(Killed):
        _store(store, WEEKS[0], _document(WEEKS[0], 0))
    monkeypatch.undo()

    assert _latest(store) is None  # a full read of the playlist, the cost of the kill
    _store(store, WEEKS[0], _document(WEEKS[0], 1))
    assert _latest(store).snapshot_id == f"{WEEKS[0]}/1"


def test_a_rewrite_killed_before_its_pointer_is_never_taken_for_the_old_snapshot(
    store, monkeypatch
):
    week = WEEKS[3]
    before = _document(week, "v")
    _store(store, week, before)
    # The same week stored again with the same snapshot id but other entries (a replayed
    # recording edited since, say), and the process killed before the pointer followed.
    monkeypatch.setattr(ObjectStoreIOManager, "advance_latest_pointer", _killed)
    with pytest.raises(Killed):
        _store(store, week, _document(week, "v", name="another song"))
    monkeypatch.undo()

    latest = _latest(store)
    assert (latest.week, latest.snapshot_id) == (week, before["snapshot_id"])
    with pytest.raises(SnapshotReplaced):
        latest.load()  # the live source then reads every page instead of reusing these


def test_a_pointer_that_fails_to_write_leaves_the_partition_stored(store, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(store), "replace_if", full_disk)
    document = _document(WEEKS[0], 0)
    _store(store, WEEKS[0], document)

    path = store.partition_file(PLAYLIST_JSON, "json", playlist=PLAYLIST, week=WEEKS[0])
    assert store.read_bytes(path) == strict_json(document)
    assert _latest(store) is None


def test_the_pointer_sits_beside_the_lake_not_in_it(tmp_path):
    store = ObjectStoreIOManager(base_path=UPath(tmp_path))
    _store(store, WEEKS[0], _document(WEEKS[0], 0))
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        f"latest/playlist_json/playlist={PLAYLIST}.json",
        f"raw/playlist_json/week={WEEKS[0]}/playlist={PLAYLIST}/playlist.json",
    ]
