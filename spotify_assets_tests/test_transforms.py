"""Pure unit tests of the transforms: hand-written playlist documents in, exact rows out."""

import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from spotify_assets.io_managers.object_store import decode, encode
from spotify_assets.sources import SAMPLE_DATA_DIR
from spotify_assets.sources.sample_generator import (
    SAMPLE_WEEKS,
    SMALL_EMPTY_WEEK,
    SMALL_PLAYLIST_ID,
)
from spotify_assets.transforms import (
    PlaylistFormatError,
    flatten_playlist,
    normalize_playlist,
    playlist_attributes,
    playlist_entries_page,
    schema,
)
from spotify_assets.transforms.checks import (
    entry_count_problems,
    foreign_key_problems,
    primary_key_problems,
)

PLAYLIST_ID = "5UoXmzTestPlaylist"
WEEK = "2026-01-05"
SNAPSHOT = "AAAAsnapshot=="
ADDED = "2026-01-03T10:00:00Z"
ADDED_AT = datetime(2026, 1, 3, 10, 0, tzinfo=UTC)
VARIOUS_ARTISTS = "0LyfQWJT6nXafLPZqxe9Of"
# Every character the old pipelines lost: comma, double quote, \n, \r\n, other scripts, emoji.
ODD = 'a, "quoted" b\nline 2\r\nline 3 Ελληνικά 東京 Москва عربى 🎸🔥'
SAMPLE_RECORDINGS = sorted(SAMPLE_DATA_DIR.glob("*/*.json"))


# --- builders ---------------------------------------------------------------------------------


def artist(artist_id: str, name: str | None = None) -> dict:
    return {
        "id": artist_id,
        "name": f"Artist {artist_id}" if name is None else name,
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
        "external_urls": {"spotify": f"https://open.spotify.com/artist/{artist_id}"},
    }


def album(album_id: str, *artists: dict, name=None, release_date="1981-12-15", precision="day"):
    return {
        "id": album_id,
        "name": f"Album {album_id}" if name is None else name,
        "album_type": "album",
        "release_date": release_date,
        "release_date_precision": precision,
        "total_tracks": 10,
        "artists": list(artists),
        "external_urls": {"spotify": f"https://open.spotify.com/album/{album_id}"},
    }


def track(track_id: str, album_: dict, *artists: dict, name=None, **fields) -> dict:
    return {
        "type": "track",
        "id": track_id,
        "name": f"Song {track_id}" if name is None else name,
        "uri": f"spotify:track:{track_id}",
        "duration_ms": 200_000,
        "explicit": False,
        "disc_number": 1,
        "track_number": 3,
        "is_local": False,
        "external_ids": {"isrc": f"ISRC{track_id}"},
        "external_urls": {"spotify": f"https://open.spotify.com/track/{track_id}"},
        "artists": list(artists),
        "album": album_,
        **fields,
    }


def entry(item, *, key="item", added_at=ADDED, added_by=None, is_local=False, **keys) -> dict:
    return {
        "added_at": added_at,
        "added_by": added_by,
        "is_local": is_local,
        "primary_color": None,
        "video_thumbnail": {"url": None},
        key: item,
        **keys,
    }


def playlist(*entries: dict, key="items") -> dict:
    page = {"href": "h", "items": list(entries), "limit": 50, "next": None, "offset": 0}
    page |= {"previous": None, "total": len(entries)}
    return {"id": PLAYLIST_ID, "name": "Test", "snapshot_id": SNAPSHOT, key: page}


def rows(document: dict) -> dict[str, list[dict]]:
    """The tables built from the entries; the playlist's own row is tested on its own below."""
    tables = normalize_playlist(document, week=WEEK)
    return {name: t.to_pylist() for name, t in tables.items() if name != "playlists"}


AR1, AR2, AR3 = artist("ar1"), artist("ar2", "Beyoncé"), artist("ar3", "坂本龍一")
AL1 = album("al1", AR1)
T1 = track("t1", AL1, AR1)
LOCAL_FILE = {
    "type": "track",
    "id": None,
    "name": "Demo",
    "uri": "spotify:local:Me:Demos:Demo:127",
    "duration_ms": 127_000,
    "explicit": False,
    "disc_number": 0,
    "track_number": 0,
    "is_local": True,
    "external_ids": {},
    "external_urls": {},
    "artists": [{"id": None, "name": "Me", "type": "artist", "uri": None, "external_urls": {}}],
    "album": {"id": None, "name": "Demos", "album_type": None, "artists": [], "external_urls": {}},
}
EPISODE = {
    "type": "episode",
    "id": "ep1",
    "name": "Episode 1",
    "uri": "spotify:episode:ep1",
    "duration_ms": 1_800_000,
    "explicit": True,
    "is_local": False,
    "external_urls": {"spotify": "https://open.spotify.com/episode/ep1"},
    "show": {"id": "sh1", "name": "Show 1", "external_urls": {}},
}
NO_ENTITIES = {"artists": [], "albums": [], "songs": [], "song_artists": []}

T1_TABLES = {
    "artists": [
        {
            "artist_id": "ar1",
            "artist_name": "Artist ar1",
            "external_url": "https://open.spotify.com/artist/ar1",
            "uri": "spotify:artist:ar1",
        }
    ],
    "albums": [
        {
            "album_id": "al1",
            "name": "Album al1",
            "release_date": "1981-12-15",
            "release_date_precision": "day",
            "release_year": 1981,
            "album_type": "album",
            "total_tracks": 10,
            "artist_id": "ar1",
            "url": "https://open.spotify.com/album/al1",
        }
    ],
    "songs": [
        {
            "song_id": "t1",
            "song_name": "Song t1",
            "duration_ms": 200_000,
            "url": "https://open.spotify.com/track/t1",
            "popularity": None,
            "song_added": ADDED_AT,
            "album_id": "al1",
            "artist_id": "ar1",
            "isrc": "ISRCt1",
            "explicit": False,
            "disc_number": 1,
            "track_number": 3,
        }
    ],
    "song_artists": [{"song_id": "t1", "artist_position": 0, "artist_id": "ar1"}],
    "playlist_entries": [
        {
            "position": 0,
            "item_type": "track",
            "song_id": "t1",
            "playable_song_id": None,
            "uri": "spotify:track:t1",
            "name": "Song t1",
            "duration_ms": 200_000,
            "added_at": ADDED_AT,
            "added_by": "u1",
            "snapshot_id": SNAPSHOT,
        }
    ],
}


def entry_row(position, item_type, song_id, uri, name, duration_ms, added_at=ADDED_AT, by=None):
    return {
        "position": position,
        "item_type": item_type,
        "song_id": song_id,
        "playable_song_id": None,
        "uri": uri,
        "name": name,
        "duration_ms": duration_ms,
        "added_at": added_at,
        "added_by": by,
        "snapshot_id": SNAPSHOT,
    }


# --- normalize_playlist -----------------------------------------------------------------------


def test_2026_shape_items_item():
    assert rows(playlist(entry(T1, added_by={"id": "u1"}))) == T1_TABLES


def test_older_shape_tracks_track_gives_the_same_tables():
    older = normalize_playlist(
        playlist(entry(T1, key="track", added_by={"id": "u1"}), key="tracks"), week=WEEK
    )
    newer = normalize_playlist(playlist(entry(T1, added_by={"id": "u1"})), week=WEEK)
    assert rows(playlist(entry(T1, key="track", added_by={"id": "u1"}), key="tracks")) == T1_TABLES
    for name in older:
        assert older[name].equals(newer[name]), name


def test_entry_with_both_item_and_track_counts_once():
    both = entry(T1, added_by={"id": "u1"}, track=T1)
    assert rows(playlist(both)) == T1_TABLES


def test_entry_with_different_item_and_track_uses_item():
    other = track("t9", album("al9", artist("ar9")), artist("ar9"))
    assert rows(playlist(entry(T1, added_by={"id": "u1"}, track=other))) == T1_TABLES


@pytest.mark.parametrize("key", ["item", "track"])
def test_null_item_is_an_unavailable_entry_only(key):
    assert rows(playlist(entry(None, key=key), key="items" if key == "item" else "tracks")) == {
        **NO_ENTITIES,
        "playlist_entries": [entry_row(0, "unavailable", None, None, None, None)],
    }


def test_local_file_is_a_local_entry_only():
    local = "spotify:local:Me:Demos:Demo:127"
    assert rows(playlist(entry(LOCAL_FILE, is_local=True))) == {
        **NO_ENTITIES,
        "playlist_entries": [entry_row(0, "local", None, local, "Demo", 127_000)],
    }


def test_episode_is_an_episode_entry_only():
    uri = "spotify:episode:ep1"
    assert rows(playlist(entry(EPISODE))) == {
        **NO_ENTITIES,
        "playlist_entries": [entry_row(0, "episode", None, uri, "Episode 1", 1_800_000)],
    }


def test_multi_artist_track_credits_every_artist_in_order():
    tables = rows(playlist(entry(track("t1", AL1, AR1, AR2, AR3))))
    assert tables["song_artists"] == [
        {"song_id": "t1", "artist_position": 0, "artist_id": "ar1"},
        {"song_id": "t1", "artist_position": 1, "artist_id": "ar2"},
        {"song_id": "t1", "artist_position": 2, "artist_id": "ar3"},
    ]
    assert [(s["song_id"], s["artist_id"]) for s in tables["songs"]] == [("t1", "ar1")]
    assert tables["artists"] == [
        {
            "artist_id": "ar1",
            "artist_name": "Artist ar1",
            "external_url": "https://open.spotify.com/artist/ar1",
            "uri": "spotify:artist:ar1",
        },
        {
            "artist_id": "ar2",
            "artist_name": "Beyoncé",
            "external_url": "https://open.spotify.com/artist/ar2",
            "uri": "spotify:artist:ar2",
        },
        {
            "artist_id": "ar3",
            "artist_name": "坂本龍一",
            "external_url": "https://open.spotify.com/artist/ar3",
            "uri": "spotify:artist:ar3",
        },
    ]


def test_album_artist_differing_from_track_artists():
    various = artist(VARIOUS_ARTISTS, "Varios artistas")
    compilation = album("al2", various)
    tables = rows(playlist(entry(track("t2", compilation, AR1, AR2))))
    assert [(a["album_id"], a["artist_id"]) for a in tables["albums"]] == [("al2", VARIOUS_ARTISTS)]
    assert [(s["song_id"], s["album_id"], s["artist_id"]) for s in tables["songs"]] == [
        ("t2", "al2", "ar1")
    ]
    assert [(a["artist_id"], a["artist_name"]) for a in tables["artists"]] == [
        ("ar1", "Artist ar1"),
        ("ar2", "Beyoncé"),
        (VARIOUS_ARTISTS, "Varios artistas"),
    ]
    assert tables["song_artists"] == [
        {"song_id": "t2", "artist_position": 0, "artist_id": "ar1"},
        {"song_id": "t2", "artist_position": 1, "artist_id": "ar2"},
    ]


def test_same_track_at_several_positions():
    t2 = track("t2", AL1, AR1)
    tables = rows(
        playlist(
            entry(T1, added_at="2026-01-04T08:00:00Z"),
            entry(T1, added_at=None),
            entry(t2),
            entry(T1, added_at="2026-01-02T23:59:59Z"),
            entry(T1, added_at="2026-01-04T07:00:00Z"),
        )
    )
    assert [(s["song_id"], s["song_added"]) for s in tables["songs"]] == [
        ("t1", datetime(2026, 1, 2, 23, 59, 59, tzinfo=UTC)),
        ("t2", ADDED_AT),
    ]
    assert [(e["position"], e["song_id"], e["added_at"]) for e in tables["playlist_entries"]] == [
        (0, "t1", datetime(2026, 1, 4, 8, 0, tzinfo=UTC)),
        (1, "t1", None),
        (2, "t2", ADDED_AT),
        (3, "t1", datetime(2026, 1, 2, 23, 59, 59, tzinfo=UTC)),
        (4, "t1", datetime(2026, 1, 4, 7, 0, tzinfo=UTC)),
    ]
    assert len(tables["albums"]) == len(tables["artists"]) == 1
    assert [r["song_id"] for r in tables["song_artists"]] == ["t1", "t2"]


@pytest.mark.parametrize(
    ("first", "second", "earliest"),
    [
        (ADDED, "2026-01-03T10:00:00.500Z", ADDED_AT),
        (ADDED, "2026-01-03T10:30:00+01:00", datetime(2026, 1, 3, 9, 30, tzinfo=UTC)),
    ],
)
def test_song_added_is_the_earliest_instant_in_any_iso_spelling(first, second, earliest):
    tables = rows(playlist(entry(T1, added_at=first), entry(T1, added_at=second)))
    assert tables["songs"][0]["song_added"] == earliest


@pytest.mark.parametrize(
    ("release_date", "precision", "release_year"),
    [
        ("1981", "year", 1981),
        ("1981-12", "month", 1981),
        ("1981-12-15", "day", 1981),
        ("0000", "year", None),
    ],
)
def test_release_dates(release_date, precision, release_year):
    dated = album("al1", AR1, release_date=release_date, precision=precision)
    assert rows(playlist(entry(track("t1", dated, AR1))))["albums"] == [
        {
            "album_id": "al1",
            "name": "Album al1",
            "release_date": release_date,
            "release_date_precision": precision,
            "release_year": release_year,
            "album_type": "album",
            "total_tracks": 10,
            "artist_id": "ar1",
            "url": "https://open.spotify.com/album/al1",
        }
    ]


def test_empty_names_stay_empty_strings():
    taken_down = track("t1", album("al1", AR1, name=""), AR1, name="")
    tables = rows(playlist(entry(taken_down)))
    assert [s["song_name"] for s in tables["songs"]] == [""]
    assert [a["name"] for a in tables["albums"]] == [""]
    assert [e["name"] for e in tables["playlist_entries"]] == [""]


def test_odd_characters_survive_in_every_text_field():
    def odd(field):
        return f"{field} {ODD}"

    odd_artist = {
        "id": "ar1",
        "name": odd("artist_name"),
        "uri": odd("artist_uri"),
        "external_urls": {"spotify": odd("artist_url")},
    }
    odd_album = album("al1", odd_artist, name=odd("album_name"), precision=odd("precision"))
    odd_album |= {"album_type": odd("album_type"), "external_urls": {"spotify": odd("album_url")}}
    odd_track = track(
        "t1",
        odd_album,
        odd_artist,
        name=odd("song_name"),
        uri=odd("song_uri"),
        external_ids={"isrc": odd("isrc")},
        external_urls={"spotify": odd("song_url")},
    )
    document = playlist(entry(odd_track, added_by={"id": odd("user")}))
    document["snapshot_id"] = odd("snapshot")
    tables = rows(document)
    assert tables["artists"] == [
        {
            "artist_id": "ar1",
            "artist_name": odd("artist_name"),
            "external_url": odd("artist_url"),
            "uri": odd("artist_uri"),
        }
    ]
    album_row = tables["albums"][0]
    assert [album_row[c] for c in ("name", "release_date_precision", "album_type", "url")] == [
        odd("album_name"),
        odd("precision"),
        odd("album_type"),
        odd("album_url"),
    ]
    song_row = tables["songs"][0]
    assert [song_row[c] for c in ("song_name", "url", "isrc")] == [
        odd("song_name"),
        odd("song_url"),
        odd("isrc"),
    ]
    assert tables["playlist_entries"] == [
        entry_row(0, "track", "t1", odd("song_uri"), odd("song_name"), 200_000, by=odd("user"))
        | {"snapshot_id": odd("snapshot")}
    ]


def test_empty_playlist_has_empty_tables_with_every_column():
    tables = normalize_playlist(playlist(), week=WEEK)
    assert set(tables) == set(schema.TABLE_SCHEMAS)
    for name, table in tables.items():
        # The playlist itself is still there: an empty snapshot, not a week never taken.
        assert table.num_rows == (1 if name == "playlists" else 0), name
        assert table.schema.equals(schema.TABLE_SCHEMAS[name], check_metadata=True), name
    assert tables["playlists"]["total"].to_pylist() == [0]
    flat = flatten_playlist(playlist(), week=WEEK)
    assert flat.num_rows == 0
    assert flat.schema.equals(schema.PLAYLIST_CSV, check_metadata=True)


def test_popularity_present_for_older_apps_and_null_when_absent():
    with_popularity, without = track("t1", AL1, AR1, popularity=57), track("t2", AL1, AR1)
    tables = rows(playlist(entry(with_popularity), entry(without)))
    assert [(s["song_id"], s["popularity"]) for s in tables["songs"]] == [("t1", 57), ("t2", None)]


def test_added_by_and_added_at():
    user = {"id": "user1", "type": "user", "uri": "spotify:user:user1", "external_urls": {}}
    tables = rows(
        playlist(
            entry(track("t1", AL1, AR1), added_by=None),
            entry(track("t2", AL1, AR1), added_by={"id": ""}),
            entry(track("t3", AL1, AR1), added_by=user),
            entry(track("t4", AL1, AR1), added_by=user, added_at=None),
        )
    )
    assert tables["playlist_entries"] == [
        entry_row(0, "track", "t1", "spotify:track:t1", "Song t1", 200_000, by=None),
        entry_row(1, "track", "t2", "spotify:track:t2", "Song t2", 200_000, by=None),
        entry_row(2, "track", "t3", "spotify:track:t3", "Song t3", 200_000, by="user1"),
        entry_row(3, "track", "t4", "spotify:track:t4", "Song t4", 200_000, None, by="user1"),
    ]
    assert [s["song_added"] for s in tables["songs"]] == [ADDED_AT, ADDED_AT, ADDED_AT, None]


# --- malformed documents ----------------------------------------------------------------------

WHERE = f"playlist {PLAYLIST_ID!r}, week {WEEK}"
STRUCTURAL = [
    pytest.param(["not", "a", "dict"], [f"week {WEEK}", "expected a playlist object, got list"]),
    pytest.param(
        {"name": "x", "items": {"items": []}},
        [f"playlist None, week {WEEK}", "no playlist 'id'"],
        id="no-id",
    ),
    pytest.param(
        {"id": PLAYLIST_ID, "name": "x", "snapshot_id": SNAPSHOT},
        [WHERE, "no paging object of entries under 'items' or 'tracks'"],
        id="no-paging-object",
    ),
    pytest.param(
        playlist(entry(T1), 5), [WHERE, "entry at position 1 is int, not an object"], id="entry-int"
    ),
    pytest.param(
        playlist(entry("spotify:track:t1")),
        [WHERE, "entry at position 0 has an item of type str, not an object"],
        id="item-str",
    ),
    pytest.param(
        playlist(entry(track("t1", AL1, AR1) | {"artists": {"id": "ar1"}})),
        [WHERE, "entry at position 0 is malformed", "'artists' is dict, not a list"],
        id="artists-dict",
    ),
    pytest.param(
        playlist(entry(track("t1", AL1, AR1) | {"artists": 7})),
        [WHERE, "entry at position 0 is malformed", "'artists' is int, not a list"],
        id="artists-int",
    ),
]


@pytest.mark.parametrize("transform", [normalize_playlist, flatten_playlist])
@pytest.mark.parametrize(("document", "message_parts"), STRUCTURAL)
def test_malformed_documents_raise_naming_playlist_week_and_problem(
    transform, document, message_parts
):
    with pytest.raises(PlaylistFormatError) as raised:
        transform(document, week=WEEK)
    for part in message_parts:
        assert part in str(raised.value)


@pytest.mark.parametrize("transform", [normalize_playlist, flatten_playlist])
def test_empty_artists_that_is_not_a_list_raises(transform):
    document = playlist(entry(track("t1", AL1, AR1) | {"artists": {}}))
    with pytest.raises(PlaylistFormatError, match="entry at position 0"):
        transform(document, week=WEEK)


def test_bad_added_at_raises_naming_playlist_week_and_problem():
    with pytest.raises(PlaylistFormatError) as raised:
        normalize_playlist(playlist(entry(T1), entry(T1, added_at="last Tuesday")), week=WEEK)
    assert str(raised.value) == (
        f"{WHERE}: entry at position 1: 'added_at' is \"last Tuesday\" (str), "
        "expected an ISO-8601 time"
    )


# --- types at the edge: refused, never coerced ------------------------------------------------

NON_NEGATIVE = "expected a non-negative integer"
REFUSED = [
    pytest.param({"duration_ms": 1.5}, "'item.duration_ms' is 1.5 (float), " + NON_NEGATIVE),
    pytest.param({"duration_ms": -1}, "'item.duration_ms' is -1 (int), " + NON_NEGATIVE),
    pytest.param(
        {"duration_ms": "200000"}, "'item.duration_ms' is \"200000\" (str), " + NON_NEGATIVE
    ),
    pytest.param({"duration_ms": True}, "'item.duration_ms' is true (bool), " + NON_NEGATIVE),
    pytest.param({"track_number": 2.0}, "'item.track_number' is 2.0 (float), " + NON_NEGATIVE),
    pytest.param({"disc_number": -1}, "'item.disc_number' is -1 (int), " + NON_NEGATIVE),
    pytest.param(
        {"popularity": 101}, "'item.popularity' is 101 (int), expected an integer from 0 to 100"
    ),
    pytest.param(
        {"explicit": "false"}, "'item.explicit' is \"false\" (str), expected true or false"
    ),
    pytest.param({"explicit": 0}, "'item.explicit' is 0 (int), expected true or false"),
    pytest.param({"id": 42}, "'item.id' is 42 (int), expected a string"),
    pytest.param({"name": ["a"]}, "'item.name' is [\"a\"] (list), expected a string"),
    pytest.param({"uri": 7}, "'item.uri' is 7 (int), expected a string"),
    pytest.param(
        {"external_ids": {"isrc": 123}}, "'item.external_ids.isrc' is 123 (int), expected a string"
    ),
    pytest.param(
        {"album": album("al1", AR1) | {"total_tracks": "10"}},
        "'item.album.total_tracks' is \"10\" (str), " + NON_NEGATIVE,
    ),
    pytest.param(
        {"album": album("al1", AR1) | {"release_date": 2026}},
        "'item.album.release_date' is 2026 (int), expected a string",
    ),
    pytest.param(
        {"artists": [AR1 | {"name": 5}]}, "'item.artists[0].name' is 5 (int), expected a string"
    ),
    pytest.param(
        {"album": album("al1", AR1 | {"id": 9})},
        "'item.album.artists[0].id' is 9 (int), expected a string",
    ),
    pytest.param(
        {"linked_from": {"uri": "spotify:track:own"}},
        "'item.linked_from.id' is null (NoneType), expected a track id",
    ),
    pytest.param({"linked_from": "own"}, "'item.linked_from' is \"own\" (str), expected an object"),
]


@pytest.mark.parametrize("transform", [normalize_playlist, flatten_playlist])
@pytest.mark.parametrize(("fields", "problem"), REFUSED)
def test_a_field_of_the_wrong_type_or_range_is_refused_naming_where(transform, fields, problem):
    document = playlist(entry(T1), entry(T1 | {"id": "t2"} | fields))
    with pytest.raises(PlaylistFormatError) as raised:
        transform(document, week=WEEK)
    assert str(raised.value) == f"{WHERE}: entry at position 1: {problem}"


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"added_at": 1767434400}, "'added_at' is 1767434400 (int), expected a string"),
        ({"is_local": "no"}, "'is_local' is \"no\" (str), expected true or false"),
        ({"added_by": {"id": 7}}, "'added_by.id' is 7 (int), expected a string"),
    ],
)
def test_an_entry_field_of_the_wrong_type_is_refused(keys, problem):
    document = playlist(entry(T1, **keys))
    with pytest.raises(PlaylistFormatError) as raised:
        normalize_playlist(document, week=WEEK)
    assert str(raised.value) == f"{WHERE}: entry at position 0: {problem}"


def test_the_older_shape_names_the_track_key():
    document = playlist(entry(T1 | {"duration_ms": 1.5}, key="track"), key="tracks")
    with pytest.raises(PlaylistFormatError) as raised:
        normalize_playlist(document, week=WEEK)
    assert str(raised.value) == (
        f"{WHERE}: entry at position 0: 'track.duration_ms' is 1.5 (float), " + NON_NEGATIVE
    )


@pytest.mark.parametrize(
    ("total", "shown"), [("31", '"31" (str)'), (-1, "-1 (int)"), (1.0, "1.0 (float)")]
)
def test_a_total_that_is_not_a_count_is_refused(total, shown):
    document = playlist(entry(T1))
    document["items"]["total"] = total
    with pytest.raises(PlaylistFormatError) as raised:
        normalize_playlist(document, week=WEEK)
    assert str(raised.value) == f"{WHERE}: 'items.total' is {shown}, " + NON_NEGATIVE


def test_a_snapshot_id_that_is_not_text_is_refused():
    document = playlist(entry(T1)) | {"snapshot_id": 12}
    with pytest.raises(PlaylistFormatError) as raised:
        normalize_playlist(document, week=WEEK)
    assert str(raised.value) == f"{WHERE}: 'snapshot_id' is 12 (int), expected a string"


@pytest.mark.parametrize("transform", [normalize_playlist, flatten_playlist])
def test_a_playlist_whose_every_track_lacks_an_id_is_refused(transform):
    idless = {key: value for key, value in T1.items() if key != "id"}
    document = playlist(entry(None), entry(idless), entry(idless | {"id": None}))
    with pytest.raises(PlaylistFormatError) as raised:
        transform(document, week=WEEK)
    assert str(raised.value) == (
        f"{WHERE}: none of its 2 tracks has an 'id' (the first at position 1): "
        "refused rather than stored as 2 unavailable entries"
    )


def test_a_track_without_an_id_beside_tracks_with_one_stays_unavailable():
    idless = {key: value for key, value in T1.items() if key != "id"}
    tables = rows(playlist(entry(T1), entry(idless)))
    assert [e["item_type"] for e in tables["playlist_entries"]] == ["track", "unavailable"]


def test_removed_items_alone_are_still_a_playlist():
    tables = rows(playlist(entry(None), entry(None)))
    assert [e["item_type"] for e in tables["playlist_entries"]] == ["unavailable"] * 2


@pytest.mark.parametrize(
    "release_date", ["2026-13-45", "2026-02-30", "0000-00-00", "soon", "19811", "1981-1-1", ""]
)
def test_an_impossible_release_date_gives_a_null_year_and_is_kept_as_it_came(release_date):
    dated = album("al1", AR1, release_date=release_date, precision="day")
    (row,) = rows(playlist(entry(track("t1", dated, AR1))))["albums"]
    assert (row["release_date"], row["release_year"]) == (release_date, None)


# --- relinking: a song is the playlist's own track ----------------------------------------------

OWN = {
    "id": "own1",
    "type": "track",
    "uri": "spotify:track:own1",
    "href": "https://api.spotify.com/v1/tracks/own1",
    "external_urls": {"spotify": "https://open.spotify.com/track/own1"},
}


def test_a_relinked_track_is_the_playlists_own_track_with_the_playable_one_beside_it():
    relinked = track("play1", AL1, AR1, linked_from=OWN)
    tables = rows(playlist(entry(relinked), entry(T1), entry(relinked)))
    assert [
        (e["song_id"], e["playable_song_id"], e["uri"]) for e in tables["playlist_entries"]
    ] == [
        ("own1", "play1", "spotify:track:own1"),
        ("t1", None, "spotify:track:t1"),
        ("own1", "play1", "spotify:track:own1"),
    ]
    assert [(s["song_id"], s["url"], s["song_name"]) for s in tables["songs"]] == [
        ("own1", "https://open.spotify.com/track/own1", "Song play1"),
        ("t1", "https://open.spotify.com/track/t1", "Song t1"),
    ]
    assert [a["song_id"] for a in tables["song_artists"]] == ["own1", "t1"]
    tables = normalize_playlist(playlist(entry(relinked), entry(T1)), week=WEEK)
    for name in schema.TABLE_SCHEMAS:
        assert foreign_key_problems(name, tables) == [], name


def test_a_relinked_track_reads_the_same_song_as_the_unrelinked_one():
    own = track("own1", AL1, AR1)
    relinked = track("play1", AL1, AR1, linked_from=OWN)
    unrelinked_entries = rows(playlist(entry(own)))["playlist_entries"]
    relinked_entries = rows(playlist(entry(relinked)))["playlist_entries"]
    assert [(e["song_id"], e["uri"]) for e in unrelinked_entries] == [
        (e["song_id"], e["uri"]) for e in relinked_entries
    ]


def test_a_relinked_uri_falls_back_to_the_own_tracks_id():
    relinked = track("play1", AL1, AR1, linked_from={"id": "own1"})
    (row,) = rows(playlist(entry(relinked)))["playlist_entries"]
    assert (row["song_id"], row["playable_song_id"], row["uri"]) == (
        "own1",
        "play1",
        "spotify:track:own1",
    )


# --- checks -----------------------------------------------------------------------------------


def rich_tables() -> dict[str, pa.Table]:
    t2 = track("t2", album("al2", AR2), AR2, AR3)
    return normalize_playlist(
        playlist(
            entry(T1), entry(None), entry(LOCAL_FILE, is_local=True), entry(EPISODE), entry(t2),
            entry(T1),
        ),
        week=WEEK,
    )  # fmt: skip


def test_checks_return_nothing_on_good_tables():
    tables = rich_tables()
    for name in schema.TABLE_SCHEMAS:
        assert primary_key_problems(name, tables[name]) == [], name
        assert foreign_key_problems(name, tables) == [], name
    assert entry_count_problems(tables["playlist_entries"], 6) == []
    empty = normalize_playlist(playlist(), week=WEEK)
    for name in schema.TABLE_SCHEMAS:
        assert primary_key_problems(name, empty[name]) == [], name
        assert foreign_key_problems(name, empty) == [], name
    assert entry_count_problems(empty["playlist_entries"], 0) == []


def test_primary_key_problems_finds_nulls_and_duplicates():
    artists = pa.Table.from_pylist(
        [{"artist_id": None}, {"artist_id": "x"}, {"artist_id": "x"}, {"artist_id": "y"}],
        schema=schema.ARTISTS,
    )
    assert primary_key_problems("artists", artists) == [
        "1 rows with a null artist_id",
        "1 repeated keys, e.g. [{'artist_id': 'x'}]",
    ]
    song_artists = pa.Table.from_pylist(
        [
            {"song_id": "t1", "artist_position": 0, "artist_id": "a"},
            {"song_id": "t1", "artist_position": 1, "artist_id": "b"},
            {"song_id": "t1", "artist_position": 0, "artist_id": "c"},
        ],
        schema=schema.SONG_ARTISTS,
    )
    assert primary_key_problems("song_artists", song_artists) == [
        "1 repeated keys, e.g. [{'song_id': 't1', 'artist_position': 0}]"
    ]


def test_foreign_key_problems_finds_a_song_album_with_no_album():
    tables = rich_tables()
    tables["albums"] = tables["albums"].filter(pc.field("album_id") != "al1")
    assert foreign_key_problems("songs", tables) == [
        "1 album_id values not in albums.album_id, e.g. ['al1']"
    ]
    assert foreign_key_problems("albums", tables) == []


def test_entry_count_problems():
    entries = rich_tables()["playlist_entries"]
    assert entry_count_problems(entries, 7) == ["6 entries, but the playlist says total = 7"]
    assert entry_count_problems(entries, None) == ["the playlist document has no total"]
    assert entry_count_problems(entries, "6") == [
        "the playlist's total is '6' (str), not an integer"
    ]


# --- flatten_playlist and the CSV round trip --------------------------------------------------

FLAT_NULLS = dict.fromkeys(schema.PLAYLIST_CSV.names)


def test_flatten_one_row_per_entry():
    t1 = track("t1", album("al1", AR1, AR2), AR1, AR2, AR3, popularity=42)
    document = playlist(
        entry(t1, added_by={"id": "u1"}),
        entry(None, added_at=None),
        entry(LOCAL_FILE, is_local=True, added_by={"id": ""}),
        entry(EPISODE),
    )
    assert flatten_playlist(document, week=WEEK).to_pylist() == [
        FLAT_NULLS
        | {
            "position": 0,
            "item_type": "track",
            "added_at": ADDED,
            "added_by": "u1",
            "is_local": False,
            "item_id": "t1",
            "uri": "spotify:track:t1",
            "name": "Song t1",
            "duration_ms": 200_000,
            "explicit": False,
            "disc_number": 1,
            "track_number": 3,
            "isrc": "ISRCt1",
            "popularity": 42,
            "artist_ids": "ar1;ar2;ar3",
            "artist_names": '["Artist ar1", "Beyoncé", "坂本龍一"]',
            "album_id": "al1",
            "album_name": "Album al1",
            "album_type": "album",
            "album_release_date": "1981-12-15",
            "album_release_date_precision": "day",
            "album_artist_ids": "ar1;ar2",
            "url": "https://open.spotify.com/track/t1",
        },
        FLAT_NULLS | {"position": 1, "item_type": "unavailable", "is_local": False},
        FLAT_NULLS
        | {
            "position": 2,
            "item_type": "local",
            "added_at": ADDED,
            "is_local": True,
            "uri": "spotify:local:Me:Demos:Demo:127",
            "name": "Demo",
            "duration_ms": 127_000,
            "explicit": False,
            "disc_number": 0,
            "track_number": 0,
            "artist_ids": "",  # one artist, with a null id
            "artist_names": '["Me"]',
            "album_name": "Demos",
        },
        FLAT_NULLS
        | {
            "position": 3,
            "item_type": "episode",
            "added_at": ADDED,
            "is_local": False,
            "item_id": "ep1",
            "uri": "spotify:episode:ep1",
            "name": "Episode 1",
            "duration_ms": 1_800_000,
            "explicit": True,
            "show_id": "sh1",
            "show_name": "Show 1",
            "url": "https://open.spotify.com/episode/ep1",
        },
    ]


def odd_flat_table() -> pa.Table:
    """Commas, quotes, \\n, \\r\\n, emoji, empty strings and nulls, and null-looking strings."""
    odd_artist = artist("ar1", ODD)
    document = playlist(
        entry(track("t1", album("al1", odd_artist, name=""), odd_artist, name=ODD)),
        entry(track("t2", album("al2", AR1, name=" NULL "), AR1, name="")),
        entry(track("t3", album("al3", AR1) | {"name": None}, AR1) | {"name": None}),
        entry(None, added_at=None),
        entry(track("t4", album("al4", AR1, name="N/A"), AR1, name="null", popularity=0)),
    )
    return flatten_playlist(document, week=WEEK)


def test_csv_round_trip_keeps_values_empty_strings_and_nulls():
    table = odd_flat_table()
    assert table.column("name").to_pylist() == [ODD, "", None, None, "null"]
    assert table.column("album_name").to_pylist() == ["", " NULL ", None, None, "N/A"]
    decoded = decode(encode(table, "csv"), "csv", schema.PLAYLIST_CSV)
    assert decoded.to_pylist() == table.to_pylist()
    assert decoded.schema.equals(schema.PLAYLIST_CSV, check_metadata=True)
    assert decoded.equals(table)


def test_csv_bytes_have_a_header_and_crlf_line_ends():
    header = ",".join(f'"{name}"' for name in schema.PLAYLIST_CSV.names).encode() + b"\r\n"
    data = encode(flatten_playlist(playlist(entry(T1), entry(None)), week=WEEK), "csv")
    assert data.startswith(header)
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 3
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert data.split(b"\r\n")[2] == b'1,"unavailable","2026-01-03T10:00:00Z",,false' + b"," * 20
    odd = encode(odd_flat_table(), "csv")
    assert odd.startswith(header)
    assert b'"a, ""quoted"" b\nline 2\r\nline 3' in odd  # quotes doubled, ends kept


def test_added_at_with_microseconds_is_kept_to_the_millisecond():
    tables = rows(playlist(entry(track("t1", AL1, AR1), added_at="2026-09-03T18:22:05.123456Z")))
    [entry_added] = [row["added_at"] for row in tables["playlist_entries"]]
    assert entry_added == datetime(2026, 9, 3, 18, 22, 5, 123000, tzinfo=UTC)


# --- the playlists table: the playlist's own attributes, one row per snapshot ------------------

PLAYLIST_ATTRIBUTES = {
    "name": "Road Trip",
    "description": "Songs &amp; stories, I&#x27;m told",
    "owner": {"id": "owner1", "display_name": "Owner One", "type": "user"},
    "public": False,
    "collaborative": True,
    "followers": {"href": None, "total": 12},
    "external_urls": {"spotify": f"https://open.spotify.com/playlist/{PLAYLIST_ID}"},
}


def test_the_playlists_row_holds_the_playlists_own_attributes():
    document = playlist(entry(T1), entry(None)) | PLAYLIST_ATTRIBUTES
    assert playlist_attributes(document, week=WEEK).to_pylist() == [
        {
            "name": "Road Trip",
            "description": "Songs & stories, I'm told",  # Spotify escapes HTML in descriptions
            "owner_id": "owner1",
            "owner_name": "Owner One",
            "public": False,
            "collaborative": True,
            "snapshot_id": SNAPSHOT,
            "total": 2,
            "followers": 12,
            "url": f"https://open.spotify.com/playlist/{PLAYLIST_ID}",
        }
    ]
    assert normalize_playlist(document, week=WEEK)["playlists"].equals(
        playlist_attributes(document, week=WEEK)
    )


def test_what_spotify_leaves_out_is_null_in_the_playlists_row():
    # A Development Mode app gets no followers; old recordings hold only the entries page.
    page_only = {"id": PLAYLIST_ID, "tracks": {"items": [], "total": 0}}
    [row] = playlist_attributes(page_only, week=WEEK).to_pylist()
    assert row == dict.fromkeys(schema.PLAYLISTS.names) | {"total": 0}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("public", "true", "'public' is \"true\" (str), expected true or false"),
        ("collaborative", 1, "'collaborative' is 1 (int), expected true or false"),
        ("description", 5, "'description' is 5 (int), expected a string"),
        ("owner", {"id": 42}, "'owner.id' is 42 (int), expected a string"),
        ("owner", "me", "'owner' is \"me\" (str), expected an object"),
        ("followers", {"total": "12"}, "'followers.total' is \"12\" (str), expected a non-neg"),
    ],
)
def test_a_playlist_attribute_of_the_wrong_type_is_refused_naming_it(field, value, message):
    document = playlist(entry(T1)) | {field: value}
    with pytest.raises(PlaylistFormatError) as error:
        normalize_playlist(document, week=WEEK)
    assert str(error.value).startswith(f"playlist {PLAYLIST_ID!r}, week {WEEK}: {message}")


def test_the_playlists_table_has_one_row_per_partition():
    row = playlist_attributes(playlist(), week=WEEK)
    assert primary_key_problems("playlists", row) == []
    assert primary_key_problems("playlists", pa.concat_tables([row, row])) == [
        "2 rows, where a partition has one"
    ]


@pytest.mark.parametrize("path", SAMPLE_RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_sample_recording_has_its_playlists_row(path):
    document = json.loads(path.read_bytes())
    [row] = playlist_attributes(document, week=path.stem).to_pylist()
    page = playlist_entries_page(document, week=path.stem)
    assert row["total"] == page["total"] == len(page["items"])
    assert (row["name"], row["snapshot_id"]) == (document["name"], document["snapshot_id"])
    assert row["owner_id"] == document["owner"]["id"]
    assert row["followers"] is None  # the sample is what a Development Mode app gets


def test_the_samples_emptied_week_is_a_row_with_total_0():
    path = SAMPLE_DATA_DIR / SMALL_PLAYLIST_ID / f"{SAMPLE_WEEKS[SMALL_EMPTY_WEEK]}.json"
    [row] = playlist_attributes(json.loads(path.read_bytes()), week=path.stem).to_pylist()
    assert (row["name"], row["total"]) == ("Sunday Morning", 0)
