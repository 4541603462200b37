"""The two paths of the normalize transforms give one result.

Given a document's JSON bytes, the tables are built from its typed view (msgspec); given the
document parsed, or bytes the typed view refuses, from the checked path, which was the only path
before. Here every document that exists (the sample dataset, generated playlists of both shapes,
the real recordings when present, the hand-built cases of ``test_transforms``) goes both ways:
the tables must be equal in schema and rows, and so must the Parquet and CSV bytes written from
them; every malformed one must be refused with the same message whichever way it came.
"""

import json
from pathlib import Path

import pyarrow as pa
import pytest

from spotify_assets.io_managers.object_store import CSV, PARQUET, encode
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import churn, synthetic_playlist
from spotify_assets.transforms import PlaylistFormatError, flatten_playlist, normalize_playlist
from spotify_assets.transforms import normalize as transforms
from spotify_assets.transforms.decode import decode_playlist
from spotify_assets_tests.test_transforms import (
    AL1,
    AR1,
    AR2,
    AR3,
    EPISODE,
    LOCAL_FILE,
    ODD,
    OWN,
    REFUSED,
    STRUCTURAL,
    T1,
    WEEK,
    album,
    artist,
    entry,
    playlist,
    track,
)

REAL_RECORDINGS = sorted(Path("/work/shared/real-playlists").glob("*/*.json"))
SAMPLE_RECORDINGS = sorted(SAMPLE_DATA_DIR.glob("*/*.json"))


def _json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _generated() -> list:
    documents = []
    for shape in ("items", "tracks"):
        for entries, seed in [(0, 0), (1, 1), (7, 2), (300, 3), (2_000, 4)]:
            generated = synthetic_playlist(entries, seed=seed, shape=shape)
            documents.append(pytest.param(_json(generated), id=f"{shape}-{entries}"))
        churned = churn(synthetic_playlist(500, seed=5, shape=shape), 0.2, seed=6)
        documents.append(pytest.param(_json(churned), id=f"{shape}-500-churned"))
    return documents


def _hand_built() -> list:
    """Every shape of entry ``test_transforms`` pins, in one playlist each way."""
    idless = {key: value for key, value in T1.items() if key != "id"}
    compilation = album("al2", artist("0LyfQWJT6nXafLPZqxe9Of", "Various Artists"), AR3)
    odd_artist = artist("ar9", ODD)
    odd_track = track("t9", album("al9", odd_artist, name=ODD), odd_artist, name=ODD)
    entries = [
        entry(T1, added_by={"id": "u1"}),
        entry(T1, added_by={"id": ""}, track=T1),
        entry(T1, track=track("t8", AL1, AR2)),
        entry(None),
        entry(None, key="track"),
        entry(LOCAL_FILE, is_local=True),
        entry(EPISODE),
        entry(idless),
        entry(track("t2", AL1, AR1, AR2, AR3), added_at="2026-01-02T23:59:59.123456Z"),
        entry(track("t3", compilation, AR1, AR2), added_at="2026-01-04T07:00:00+00:00"),
        entry(track("t4", AL1, AR1, linked_from=OWN)),
        entry(track("t5", AL1, AR1, linked_from={"id": "own5"})),
        entry(track("t6", album("al3", AR1, release_date="0000", precision="year"), AR1)),
        entry(track("t7", album("al4", release_date="2026-02-30"), popularity=55), added_at=None),
        entry(track("t10", album("al5", AR1, name=""), AR1, name="", explicit=None)),
        entry(odd_track, added_by={"id": ODD}),
        entry(T1 | {"artists": None, "album": None, "external_ids": None, "external_urls": None}),
    ]
    return [
        pytest.param(_json(playlist(*entries)), id="items"),
        pytest.param(_json(playlist(*entries, key="tracks")), id="tracks"),
        pytest.param(_json(playlist()), id="empty"),
        pytest.param(
            _json(playlist(entry(T1)) | {"description": "a &amp; b &#x27;c&#x27;", "public": None}),
            id="attributes",
        ),
    ]


VALID = [
    *[
        pytest.param(path.read_bytes(), id=f"sample-{path.parent.name}-{path.stem}")
        for path in SAMPLE_RECORDINGS
    ],
    *_generated(),
    *_hand_built(),
]


def _equal(tables: pa.Table | dict[str, pa.Table], expected: pa.Table | dict[str, pa.Table]):
    """Equal tables, or equal dicts of them: same names, schemas and rows."""
    if isinstance(expected, pa.Table):
        return tables.schema == expected.schema and tables.equals(expected)
    return list(tables) == list(expected) and all(
        _equal(tables[name], table) for name, table in expected.items()
    )


def _files(tables: dict[str, pa.Table], csv_table: pa.Table) -> dict[str, bytes]:
    files = {name: encode(table, PARQUET) for name, table in tables.items()}
    return files | {"playlist_csv": encode(csv_table, CSV)}


def _assert_both_paths_agree(data: bytes, week: str) -> None:
    decoded = decode_playlist(data)
    assert decoded.typed is not None, "the typed view refused a valid document"
    typed_tables = transforms._normalize_typed(decoded.typed, week)
    typed_csv = transforms._flatten_typed(decoded.typed, week)
    checked_tables = transforms._normalize_checked(json.loads(data), week=week)
    checked_csv = transforms._flatten_checked(json.loads(data), week=week)
    assert list(typed_tables) == list(checked_tables)
    for name, table in checked_tables.items():
        assert typed_tables[name].schema == table.schema, name
        assert typed_tables[name].equals(table), name
    assert typed_csv.schema == checked_csv.schema
    assert typed_csv.equals(checked_csv)
    assert _files(typed_tables, typed_csv) == _files(checked_tables, checked_csv)


@pytest.fixture(params=[transforms.ENTRIES_PER_CHUNK, 3], ids=lambda size: f"chunks-of-{size}")
def entries_per_chunk(request, monkeypatch):
    """The typed path reads the entries a chunk at a time: tables and files must not show where
    one chunk ends and the next begins."""
    monkeypatch.setattr(transforms, "ENTRIES_PER_CHUNK", request.param)


@pytest.mark.parametrize("data", VALID)
def test_the_typed_path_builds_the_checked_paths_tables_and_files(data, entries_per_chunk):
    _assert_both_paths_agree(data, WEEK)


@pytest.mark.skipif(not REAL_RECORDINGS, reason="no real recordings under /work/shared")
@pytest.mark.parametrize("path", REAL_RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_typed_path_builds_the_checked_paths_tables_of_every_real_recording(path):
    _assert_both_paths_agree(path.read_bytes(), path.stem)


def test_the_public_transforms_take_bytes_and_documents_alike():
    data = SAMPLE_RECORDINGS[0].read_bytes()
    assert _equal(
        normalize_playlist(data, week=WEEK), normalize_playlist(json.loads(data), week=WEEK)
    )
    decoded = decode_playlist(data)
    assert flatten_playlist(decoded, week=WEEK).equals(flatten_playlist(data, week=WEEK))


# --- refusals: the same message whichever way the document came --------------------------------


def _refusal(transform, document) -> str:
    with pytest.raises(PlaylistFormatError) as raised:
        transform(document, week=WEEK)
    return str(raised.value)


def _malformed() -> list:
    idless = {key: value for key, value in T1.items() if key != "id"}
    documents = [pytest.param(param.values[0], id=param.id) for param in STRUCTURAL]
    documents += [
        pytest.param(playlist(entry(T1), entry(T1 | {"id": "t2"} | param.values[0])), id=param.id)
        for param in REFUSED
    ]
    documents += [
        pytest.param(playlist(entry_), id=name)
        for name, entry_ in [
            ("added_at-int", entry(T1, added_at=1767434400)),
            ("added_at-text", entry(T1, added_at="last Tuesday")),
            ("is_local-text", entry(T1, is_local="no")),
            ("added_by-id-int", entry(T1, added_by={"id": 7})),
            ("added_by-list", entry(T1, added_by=["u1"])),
            ("artists-empty-dict", entry(T1 | {"artists": {}})),
            ("artist-null", entry(T1 | {"artists": [None]})),
            ("show-text", entry(EPISODE | {"show": "s"})),
            ("linked_from-empty-id", entry(T1 | {"linked_from": {"id": ""}})),
        ]
    ]
    documents += [
        pytest.param(
            playlist(entry(T1, key="track"), key="tracks") | {"items": "not a page"},
            id="items-not-a-page-beside-tracks",
        ),
        pytest.param(playlist(entry(None), entry(idless)), id="every-track-idless"),
        pytest.param(playlist(entry(T1)) | {"id": ""}, id="empty-id"),
        pytest.param(playlist(entry(T1 | {"duration_ms": 2**63})), id="duration-beyond-int64"),
    ]
    for total in ("31", -1, 1.0):
        document = playlist(entry(T1))
        document["items"]["total"] = total
        documents.append(pytest.param(document, id=f"total-{total!r}"))
    for field, value in [
        ("snapshot_id", 12),
        ("public", "true"),
        ("collaborative", 1),
        ("description", 5),
        ("owner", {"id": 42}),
        ("owner", "me"),
        ("followers", {"total": "12"}),
        ("external_urls", {"spotify": 3}),
    ]:
        documents.append(pytest.param(playlist(entry(T1)) | {field: value}, id=f"{field}-{value}"))
    return documents


@pytest.mark.parametrize("transform", [normalize_playlist, flatten_playlist])
@pytest.mark.parametrize("document", _malformed())
def test_bytes_and_documents_are_refused_alike(transform, document, entries_per_chunk):
    """Refused or not, with the same message or the same table: ``flatten_playlist`` takes
    some documents ``normalize_playlist`` refuses (a playlist attribute of the wrong type)."""
    try:
        expected = transform(document, week=WEEK)
    except PlaylistFormatError as error:
        assert _refusal(transform, _json(document)) == str(error)
    else:
        assert _equal(transform(_json(document), week=WEEK), expected)


# --- what only the bytes can hold --------------------------------------------------------------

GOOD = _json(playlist(entry(T1)))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD.replace(b'"duration_ms": 200000', b'"duration_ms": NaN'), "NaN"),
        (GOOD.replace(b'"limit": 50', b'"limit": Infinity'), "Infinity"),
        (GOOD.replace(b'"limit": 50', b'"limit": [-Infinity]'), "-Infinity"),
    ],
    ids=["nan-in-a-field-taken", "infinity-in-a-field-skipped", "minus-infinity"],
)
def test_nan_and_infinity_are_refused_wherever_they_are(data, reason):
    message = _refusal(normalize_playlist, data)
    assert message == f"week {WEEK}: the document is not strict JSON ({reason} is not JSON)"


def test_invalid_utf8_is_refused_even_in_a_field_no_table_takes():
    data = GOOD.replace(b'"href": "h"', b'"href": "\xff"')
    assert decode_playlist(data).typed is None
    message = _refusal(normalize_playlist, data)
    assert message.startswith(f"week {WEEK}: the document is not JSON ('utf-8' codec can't decode")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOOD[:-1], "is not JSON (Expecting ',' delimiter"),
        (GOOD + b" x", "is not JSON (Extra data"),
        (GOOD.replace(b'"href": "h"', b'"href": ' + b"[" * 100_000 + b"]" * 100_000), "is nested"),
    ],
    ids=["truncated", "trailing-data", "nested-too-deeply"],
)
def test_bytes_that_are_not_json_are_refused_naming_the_week(data, reason):
    assert _refusal(normalize_playlist, data).startswith(f"week {WEEK}: the document {reason}")


@pytest.mark.parametrize(
    "data",
    [
        GOOD.replace(b'"name": "Song t1"', b'"name": "Song t1", "name": "Later"'),
        GOOD.replace(b'"item": {', b'"item": null, "item": {'),
        GOOD.replace(b'"name": "Song t1"', b'"n\\u0061me": "Song \\u00e9\\ud83c\\udfb8"'),
        b"\xef\xbb\xbf" + GOOD,
        GOOD.decode().encode("utf-16"),
    ],
    ids=["duplicate-key", "duplicate-item-key", "escapes", "utf8-bom", "utf16"],
)
def test_bytes_read_as_json_reads_them(data):
    """Duplicate keys (the last wins), escapes, a byte-order mark and UTF-16 read as ``json``
    reads them: the typed view where it can, else the checked path."""
    assert _equal(
        normalize_playlist(data, week=WEEK), normalize_playlist(json.loads(data), week=WEEK)
    )


def test_a_lone_surrogate_goes_the_checked_path():
    data = GOOD.replace(b'"name": "Test"', b'"name": "half \\ud83c"')
    assert decode_playlist(data).typed is None
    with pytest.raises(Exception) as from_bytes:
        normalize_playlist(data, week=WEEK)
    with pytest.raises(Exception) as from_document:
        normalize_playlist(json.loads(data), week=WEEK)
    assert str(from_bytes.value) == str(from_document.value)
