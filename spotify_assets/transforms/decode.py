"""The typed view of a playlist document: only the fields the tables and the CSV take, decoded
from the JSON bytes by msgspec, every other field skipped without being built.

The document is read in two steps, so that memory stays small whatever the playlist's size: its
own fields and its paging object at once, each entry left as the span of bytes it occupies
(``msgspec.Raw``, no copy); then the entries, a chunk at a time, as the tables are built from
them (:func:`decode_entries`).

Each field has the type :mod:`spotify_assets.transforms.normalize` checks it for (strings,
non-negative integers, booleans, objects; null or absent wherever Spotify may leave a field
out), so a document the types accept is one the checks accept. Anything they refuse (a value of
the wrong type, NaN or Infinity, a lone surrogate, a document that is not JSON at all) raises
``msgspec.MsgspecError`` or gives no typed view: the caller then reads the document with
``json`` and its checks, which say exactly what is wrong. Both shapes decode alike: the paging
object under ``items`` (2026) or ``tracks`` (older apps), each entry's item under ``item``
(2026) or ``track`` (older), sometimes both.
"""

import codecs
from typing import Annotated, NamedTuple

import msgspec

# Integers go to int64 columns: a larger one is refused here, as Arrow would refuse it.
INT64_MAX = 2**63 - 1
NonNegative = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Popularity = Annotated[int, msgspec.Meta(ge=0, le=100)]
UTF8_CHUNK_BYTES = 1 << 20


# gc=False: the decoded objects hold no cycles, and leaving them out of the garbage collector's
# lists saves its passes over the hundreds of thousands of them a large playlist makes.
class _Object(msgspec.Struct, gc=False):
    pass


class ExternalUrls(_Object):
    spotify: str | None = None


class Artist(_Object):
    id: str | None = None
    name: str | None = None
    uri: str | None = None
    external_urls: ExternalUrls | None = None


class Album(_Object):
    id: str | None = None
    name: str | None = None
    release_date: str | None = None
    release_date_precision: str | None = None
    album_type: str | None = None
    total_tracks: NonNegative | None = None
    external_urls: ExternalUrls | None = None
    artists: list[Artist] | None = None


class ExternalIds(_Object):
    isrc: str | None = None


class Show(_Object):
    id: str | None = None
    name: str | None = None


class LinkedFrom(_Object):
    id: str | None = None
    uri: str | None = None
    external_urls: ExternalUrls | None = None


class Item(_Object):
    """A track, an episode or a local file."""

    id: str | None = None
    type: str | None = None
    uri: str | None = None
    name: str | None = None
    duration_ms: NonNegative | None = None
    disc_number: NonNegative | None = None
    track_number: NonNegative | None = None
    popularity: Popularity | None = None
    explicit: bool | None = None
    is_local: bool | None = None
    external_ids: ExternalIds | None = None
    external_urls: ExternalUrls | None = None
    artists: list[Artist] | None = None
    album: Album | None = None
    show: Show | None = None
    linked_from: LinkedFrom | None = None


class User(_Object):
    id: str | None = None


class Entry(_Object):
    added_at: str | None = None
    added_by: User | None = None
    is_local: bool | None = None
    item: Item | None = None
    track: Item | None = None


class Page(_Object):
    """The paging object of the entries, every page merged into it; each entry still its JSON
    bytes, for :func:`decode_entries`."""

    items: list[msgspec.Raw]
    total: NonNegative | None = None


class Owner(_Object):
    id: str | None = None
    display_name: str | None = None


class Followers(_Object):
    total: NonNegative | None = None


class Playlist(_Object):
    id: str | None = None
    name: str | None = None
    description: str | None = None
    owner: Owner | None = None
    public: bool | None = None
    collaborative: bool | None = None
    snapshot_id: str | None = None
    followers: Followers | None = None
    external_urls: ExternalUrls | None = None
    items: Page | None = None
    tracks: Page | None = None


class DecodedPlaylist(NamedTuple):
    """A playlist document's bytes, as stored, and their typed view (None when the types refuse
    the document and only its checks can say why)."""

    data: bytes
    typed: Playlist | None


_DECODER = msgspec.json.Decoder(Playlist)
_ENTRY_DECODER = msgspec.json.Decoder(Entry)


def decode_playlist(data: bytes) -> DecodedPlaylist:
    """The typed view of a playlist document's JSON bytes: its own fields and its paging
    object, each entry still its bytes."""
    try:
        typed = _DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):  # msgspec.ValidationError included
        return DecodedPlaylist(data, None)
    # msgspec checks the UTF-8 of the strings it builds, not of those it skips; json refuses a
    # document with invalid UTF-8 anywhere. Checking costs 1% (ASCII) to 6% (names in other
    # scripts) of the time json.loads takes.
    return DecodedPlaylist(data, typed if _is_utf8(data) else None)


def decode_entries(entries: list[msgspec.Raw]) -> list[Entry]:
    """The typed view of some of a page's entries; raises ``msgspec.MsgspecError`` where the
    types refuse one."""
    return [_ENTRY_DECODER.decode(entry) for entry in entries]


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(view), UTF8_CHUNK_BYTES):
            decoder.decode(view[start : start + UTF8_CHUNK_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True
