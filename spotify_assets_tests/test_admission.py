"""Write, audit, publish: a refused document or a failing blocking check replaces nothing stored.

A good week is materialized first; then the same partition is fed a hostile document. The run
fails naming the playlist, the week and the cause; every stored byte stays as it was; the refused
document is kept under ``rejected/`` with its reason.
"""

import json

import dagster as dg
import pytest

from spotify_assets import constants, deployment
from spotify_assets.assets import all_assets
from spotify_assets.assets.raw import PLAYLIST_JSON
from spotify_assets.io_managers.object_store import (
    JSON,
    REJECTED,
    NotStrictJSON,
    decode,
    encode,
)
from spotify_assets.io_managers.s3 import S3ObjectStoreIOManager, s3_root
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets_tests.conftest import local_resources, materialize, partition

PLAYLIST = SAMPLE_PLAYLIST_IDS[0]
WEEK = SAMPLE_WEEKS[0]
WHERE = f"playlist {PLAYLIST!r}, week {WEEK}"
FIRST_ITEM = "the document['items']['items'][0]['item']"
SNAPSHOT_LAYERS = dg.AssetSelection.groups(constants.RAW, constants.NORMALIZED, constants.SERVING)
DEPTH = 100_000


def _recording() -> dict:
    return json.loads((SAMPLE_DATA_DIR / PLAYLIST / f"{WEEK}.json").read_bytes())


def _with(change) -> bytes:
    """The recording after ``change``, written as Python's lenient ``json`` writes it."""
    recording = _recording()
    change(recording)
    return json.dumps(recording).encode()


def _entries(recording: dict) -> list:
    return recording["items"]["items"]


ENTRY_COUNT = len(_entries(_recording()))

# Each hostile recording, and the reason it is refused with (None: a transform's own wording,
# which names the playlist and the week).
HOSTILE = {
    "nan": (
        _with(lambda r: _entries(r)[0]["item"].update(duration_ms=float("nan"))),
        f"{WHERE}: not strict JSON: {FIRST_ITEM}['duration_ms'] is NaN, which JSON does not allow",
    ),
    "infinity": (
        _with(lambda r: _entries(r)[0]["item"].update(popularity=float("inf"))),
        f"{WHERE}: not strict JSON: {FIRST_ITEM}['popularity'] is Infinity, "
        "which JSON does not allow",
    ),
    "lone_surrogate": (
        _with(lambda r: _entries(r)[0]["item"].update(name="half \ud83c")),
        f"{WHERE}: not strict JSON: {FIRST_ITEM}['name'] is 'half \\ud83c', "
        "with a lone surrogate that UTF-8 cannot encode",
    ),
    "total_mismatch": (
        _with(lambda r: r["items"].update(total=ENTRY_COUNT + 1)),
        f"{WHERE}: entries_match_playlist_total failed: {ENTRY_COUNT} entries, but the "
        f"playlist says total = {ENTRY_COUNT + 1} ({constants.NORMALIZED}/playlist_entries)",
    ),
    "deep_nesting": (
        _with(lambda r: r.update(deep=None)).replace(
            b'"deep": null', b'"deep": ' + b"[" * DEPTH + b"]" * DEPTH
        ),
        f"{WHERE}: the document is nested too deeply to read",
    ),
    "entry_not_an_object": (_with(lambda r: _entries(r).__setitem__(1, 42)), None),
    "added_at_not_a_time": (_with(lambda r: _entries(r)[0].update(added_at="yesterday")), None),
}


def _materialize(data_dir, instance, replay_dir, selection=SNAPSHOT_LAYERS):
    return materialize(
        all_assets,
        selection=selection,
        partition_key=partition(PLAYLIST, WEEK),
        resources=local_resources(data_dir, replay_dir),
        instance=instance,
        raise_on_error=False,
    )


def _stored_files(data_dir) -> dict[str, bytes]:
    """Every stored file but the refused copies and the serving store (compared by rows)."""
    return {
        str(path.relative_to(data_dir)): path.read_bytes()
        for path in sorted(data_dir.rglob("*"))
        if path.is_file()
        and not path.name.startswith(constants.SQLITE_FILE_NAME)
        and path.relative_to(data_dir).parts[0] != REJECTED
    }


def _serving_rows(serving_store) -> dict[str, list]:
    return {
        table: serving_store.read_table(table).to_pylist() for table in constants.SERVING_TABLES
    }


def _refuse_constant(constant: str):
    raise ValueError(f"{constant} is not strict JSON")


def _failure(result: dg.ExecuteInProcessResult) -> dg.DagsterEvent:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failure


@pytest.mark.parametrize("case", HOSTILE)
def test_a_refused_document_replaces_nothing_and_is_kept_with_its_reason(
    data_dir, instance, replay_dir, serving_store, case
):
    assert _materialize(data_dir, instance, replay_dir).success
    stored, served = _stored_files(data_dir), _serving_rows(serving_store)
    document, reason = HOSTILE[case]
    (replay_dir / PLAYLIST / f"{WEEK}.json").write_bytes(document)

    result = _materialize(data_dir, instance, replay_dir)

    assert not result.success
    failure = _failure(result)
    assert failure.step_key == PLAYLIST_JSON.to_python_identifier()
    [rejected] = (data_dir / REJECTED / "playlist_json").rglob("*.json")
    folder = data_dir / REJECTED / "playlist_json" / f"week={WEEK}" / f"playlist={PLAYLIST}"
    assert rejected.parent == folder
    envelope = json.loads(rejected.read_bytes(), parse_constant=_refuse_constant)
    if reason is None:
        assert envelope["reason"].startswith(f"{WHERE}: ")
    else:
        assert envelope["reason"] == reason
    user_failure = failure.step_failure_data.user_failure_data
    assert user_failure.description == (
        f"{envelope['reason']}. Nothing stored was replaced; the rejected document is kept "
        f"at {rejected}"
    )
    assert user_failure.metadata["rejected_copy"].value == str(rejected)
    assert (envelope["playlist"], envelope["week"]) == (PLAYLIST, WEEK)
    if case == "deep_nesting":
        assert envelope["document"] is None
    else:
        # What the source returned, NaN and lone surrogates included.
        assert json.dumps(json.loads(envelope["document"])) == json.dumps(json.loads(document))
    assert _stored_files(data_dir) == stored
    assert _serving_rows(serving_store) == served


def test_every_stored_json_file_is_strict_json(data_dir, instance, replay_dir):
    assert _materialize(data_dir, instance, replay_dir).success
    (replay_dir / PLAYLIST / f"{WEEK}.json").write_bytes(HOSTILE["nan"][0])
    assert not _materialize(data_dir, instance, replay_dir).success
    stored_json = sorted(data_dir.rglob("*.json"))
    assert len(stored_json) == 3  # the good week, its latest pointer and the refused copy
    for path in stored_json:
        json.loads(path.read_bytes(), parse_constant=_refuse_constant)


def test_a_failing_blocking_check_publishes_no_table(data_dir, instance, replay_dir, serving_store):
    assert _materialize(data_dir, instance, replay_dir).success
    stored, served = _stored_files(data_dir), _serving_rows(serving_store)
    # A raw document stored before admission existed: the normalized step checks it again.
    recording = _recording()
    recording["items"]["total"] = ENTRY_COUNT + 1
    raw_file = data_dir / f"raw/playlist_json/week={WEEK}/playlist={PLAYLIST}/playlist.json"
    raw_file.write_bytes(encode(recording, JSON))
    stored[str(raw_file.relative_to(data_dir))] = raw_file.read_bytes()

    result = _materialize(
        data_dir,
        instance,
        replay_dir,
        selection=dg.AssetSelection.groups(constants.NORMALIZED, constants.SERVING),
    )

    assert not result.success
    assert _failure(result).step_failure_data.user_failure_data.description == (
        f"{WHERE}: entries_match_playlist_total failed: {ENTRY_COUNT} entries, but the playlist "
        f"says total = {ENTRY_COUNT + 1} ({constants.NORMALIZED}/playlist_entries). "
        "Nothing was written: the stored tables are as they were."
    )
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    assert failed == ["entries_match_playlist_total"]
    assert len(result.get_asset_check_evaluations()) > 1  # every result reaches the UI
    assert not result.get_asset_materialization_events()
    assert _stored_files(data_dir) == stored
    assert _serving_rows(serving_store) == served


def test_the_s3_store_keeps_a_rejected_copy_beside_the_lake(aws_storage):
    s3 = deployment.s3_resource().get_client()
    manager = S3ObjectStoreIOManager(s3, aws_storage.bucket, "lake")
    path = manager.keep_rejected(
        PLAYLIST_JSON,
        playlist=PLAYLIST,
        week=WEEK,
        reason="why",
        source="replay",
        document={"id": PLAYLIST, "n": float("nan")},
    )
    folder = f"lake/{REJECTED}/playlist_json/week={WEEK}/playlist={PLAYLIST}/"
    assert str(path).startswith(str(s3_root(aws_storage.bucket, folder)))
    stored = s3.get_object(Bucket=aws_storage.bucket, Key=manager.key(path))
    assert stored["ContentType"] == "application/json"
    envelope = json.loads(stored["Body"].read(), parse_constant=_refuse_constant)
    assert envelope["reason"] == "why"
    assert envelope["document"] == f'{{"id": "{PLAYLIST}", "n": NaN}}'


def test_stored_json_that_is_not_strict_is_refused_when_read():
    with pytest.raises(NotStrictJSON, match="NaN is not JSON"):
        decode(b'{"n": NaN}', JSON)


def test_a_stored_snapshot_damaged_later_fails_normalizing_naming_its_partition(
    data_dir, instance, replay_dir
):
    assert _materialize(data_dir, instance, replay_dir).success
    raw = data_dir / "raw" / "playlist_json" / f"week={WEEK}" / f"playlist={PLAYLIST}"
    (raw / "playlist.json").write_bytes(b'{"id": "x", "total": NaN}')
    before = _stored_files(data_dir)
    result = _materialize(
        data_dir, instance, replay_dir, dg.AssetSelection.groups(constants.NORMALIZED)
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.error.message
    assert f"Failure: {WHERE}: the document is not strict JSON (NaN is not JSON)" in message
    assert _stored_files(data_dir) == before
