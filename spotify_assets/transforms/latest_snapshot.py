"""The pointer to a playlist's newest stored raw snapshot: its week, its version, its bytes.

Change detection needs one thing from the past: the newest snapshot stored for a playlist. The
object store keeps it in one small file per playlist beside the lake, so finding it costs one
read however many weeks are stored, and needs no Dagster event log (a wiped ``DAGSTER_HOME`` with
a kept lake still finds it).

The rules that keep it safe (pure functions here; the object store applies them):

- the pointer only moves forward: a snapshot stored for an older week than the pointer's (a
  backfill) leaves it where it is; one for the same week (a re-run) replaces it;
- it is written after the snapshot it names, so it never names a week that was not stored;
- it carries the digest of the stored file's bytes, and the file is used only if it still has
  them: a re-run killed between its snapshot and its pointer leaves a pointer that no longer
  matches, which costs a full read of the playlist, never a reuse of the wrong entries.

A missing, unreadable or stale pointer therefore only costs a redundant fetch.
"""

import hashlib
import json
from dataclasses import asdict, dataclass

POINTER_VERSION = 1


@dataclass(frozen=True)
class LatestSnapshot:
    """What a playlist's pointer holds: the newest week stored, the snapshot id of the document
    stored for it ("" when Spotify gave none) and the SHA-256 of the stored file's bytes."""

    week: str
    snapshot_id: str
    sha256: str

    def describes(self, stored: bytes) -> bool:
        """Whether ``stored`` is still the file this pointer was written for."""
        return digest(stored) == self.sha256


class SnapshotReplaced(ValueError):
    """The stored file is no longer the one its pointer describes: it was replaced since."""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def latest_snapshot_of(document: object, week: str, stored: bytes) -> LatestSnapshot:
    """The pointer to ``document``, stored for ``week`` as the bytes ``stored``."""
    snapshot_id = document.get("snapshot_id") if isinstance(document, dict) else None
    return LatestSnapshot(
        week=week,
        snapshot_id=snapshot_id if isinstance(snapshot_id, str) else "",
        sha256=digest(stored),
    )


def supersedes(written: LatestSnapshot, current: LatestSnapshot | None) -> bool:
    """Whether a snapshot just ``written`` becomes the pointer in place of ``current``: no
    pointer yet, or a week at least as new (ISO dates order as text)."""
    return current is None or written.week >= current.week


def encode_pointer(pointer: LatestSnapshot) -> bytes:
    return json.dumps(
        {"version": POINTER_VERSION, **asdict(pointer)}, sort_keys=True, separators=(",", ":")
    ).encode("ascii")


def decode_pointer(data: bytes | None) -> LatestSnapshot | None:
    """The pointer in ``data``, or None when there is none or it is not one this code wrote (a
    damaged file, a future version): treated as no pointer, it costs one full read."""
    if data is None:
        return None
    try:
        fields = json.loads(data)
        if fields.get("version") != POINTER_VERSION:
            return None
        pointer = LatestSnapshot(fields["week"], fields["snapshot_id"], fields["sha256"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(value, str) for value in asdict(pointer).values()):
        return None
    return pointer
