"""Deterministic generator of the synthetic sample dataset that ships with the package.

The committed files under ``sample_data/<playlist_id>/<YYYY-MM-DD>.json`` are exactly what
``write_sample_dataset`` writes: one playlist object per playlist per week, shaped as
``GET /playlists/{id}`` returns it with every entry merged into its paging object. Everything
is synthetic: ids, names and dates come from ``random.Random`` with fixed seeds, never from the
clock or the global random state, so regenerating gives the same bytes.

Also here: ``synthetic_playlist`` and ``churn`` build large playlists for benchmarks.

Regenerate the committed dataset with ``python -m spotify_assets.sources.sample_generator``.
Pure Python, standard library only.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import pathlib
import random
import urllib.parse
from collections.abc import Sequence
from typing import Any

SAMPLE_WEEKS: list[str] = [
    (dt.date(2026, 9, 7) + dt.timedelta(weeks=week_index)).isoformat() for week_index in range(10)
]

MAIN_PLAYLIST_ID = "4q0xVAtAY3eZ8QdD5I84BJ"
COLLABORATIVE_PLAYLIST_ID = "1zhBYfZpVwTT8hOGLgMJvk"
OLDER_SHAPE_PLAYLIST_ID = "6nKtsSSFwMRYX5hRaAXp7h"
EDGE_CASES_PLAYLIST_ID = "2ZO3bH9W1OjLcL0oNrTC6q"
SMALL_PLAYLIST_ID = "5UoXmz9Ih7BMj3N8lyfB0c"

SAMPLE_PLAYLIST_IDS: list[str] = [
    MAIN_PLAYLIST_ID,
    COLLABORATIVE_PLAYLIST_ID,
    OLDER_SHAPE_PLAYLIST_ID,
    EDGE_CASES_PLAYLIST_ID,
    SMALL_PLAYLIST_ID,
]

SAMPLE_DATA_DIR = pathlib.Path(__file__).resolve().parent / "sample_data"

VARIOUS_ARTISTS_ID = "0LyfQWJT6nXafLPZqxe9Of"
OWNER_ID = "sample_owner"
OWNER_DISPLAY_NAME = "Sample Owner"

# Weeks (indexes into SAMPLE_WEEKS) with a scripted meaning; tests and docs refer to them.
MAIN_UNCHANGED_WEEK = 5  # 2026-10-12 equals 2026-10-05, snapshot_id included
COLLABORATIVE_DESCRIPTION_ONLY_WEEK = 7  # same entries, new description, new snapshot_id
OLDER_SHAPE_CHANGE_WEEKS = (2, 5, 8)  # the archive is edited rarely; other weeks are unchanged
SMALL_EMPTY_WEEK = 3  # 2026-09-28: cleared, refilled the week after
MAIN_INITIAL_SIZE = 121

_SAMPLE_SEED = 20260907
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_EDITORIAL_PREFIX = "37i9dQZ"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_API = "https://api.spotify.com/v1"
_OPEN = "https://open.spotify.com"
_ALBUM_COVER_PREFIXES = (
    (640, "ab67616d0000b273"),
    (300, "ab67616d00001e02"),
    (64, "ab67616d00004851"),
)
_SHOW_COVER_PREFIXES = (
    (640, "ab6765630000ba8a"),
    (300, "ab67656300005f1f"),
    (64, "ab6765630000f68d"),
)

# --------------------------------------------------------------------------------------------
# Words for made-up names. Real-sounding, but no real artist, album or song is meant.


def _words(text: str, separator: str | None = None) -> list[str]:
    return [word.strip() for word in text.split(separator)]


_FIRST_NAMES = _words(
    """
Mara Jonas Aiko Lena Theo Nadia Felix Ines Oskar Priya Elias Sofia Tomas Yara Milo
Clara Rafael Hanna Dario Freya Kofi Ada Leon Marisol Otis June Emil Noor Silas Vera Tariq Ilse Remy
Beatriz Hugo Saskia Idris Paloma Anton Wren"""
)
_LAST_NAMES = _words(
    """
Lindqvist Okafor Moreau Castellanos Brandt Nakamura Ferreira Holloway Adeyemi
Kowalski Rossi Sandoval Whitlock Haddad Varga Ellery Quinn Dubois Marchetti Soren Achterberg
Calloway Delacroix Fenwick Galvez Ishikawa Jovanovic Keane Larkspur Mbeki Novak Oyelaran Petrov Rhee
Sato Thorne Ueda Valenti Winslow Zamora"""
)
_ADJECTIVES = _words(
    """
Velvet Neon Silver Hollow Golden Electric Quiet Midnight Paper Crystal Wild Broken
Lunar Amber Crimson Distant Gentle Static Burning Frozen Violet Restless Sunken Painted Northern
Faded Hidden Endless Little Secret Tender Cobalt Silent Wandering Copper Pale"""
)
_NOUNS = _words(
    """
Lanterns Harbors Echoes Foxes Satellites Gardens Rivers Ghosts Mirrors Horses Comets
Strangers Engines Sparrows Tides Cities Wolves Signals Dreamers Orchards Islands Parades Shadows
Monarchs Machines Canyons Pilots Embers Valleys Saints Waves Lights"""
)
_SINGLE_NOUNS = _words(
    """
Heart Summer Fire Rain Night Morning Ocean Highway Window Garden Signal Mirror
Home Harbor Winter Daylight Thunder Paradise Station Horizon Memory Satellite Avenue Island Skyline
Shadow River Motel Letter Static Balcony Lighthouse Carousel Telephone Desert Moon"""
)
_VERB_PHRASES = _words(
    """Hold On|Let Go|Come Back|Run Away|Stay Awake|Fall Apart|Slow Down|Keep Dancing|
Drive Home|Look Up|Wake Me|Call Me|Dream Again|Breathe Out|Turn Around|Walk With Me|Say It|
Light It Up|Carry On|Stand Still""",
    "|",
)
_PREPOSITIONS = ["in the", "on the", "under the", "over the", "after the", "before the", "by the"]
_ALBUM_SUFFIXES = ["", "", "", "", " (Deluxe Edition)", " (Remastered)", " (Live)", " - EP"]
_TRACK_SUFFIXES = ["", "", "", "", "", "", " - Remastered 2011", " - Radio Edit", " (Acoustic)"]
_TRACK_SUFFIXES += [" - Live", " - Demo"]
_ISRC_COUNTRIES = _words("US GB SE DE FR JP KR NL CA AU QZ BR")


# --------------------------------------------------------------------------------------------
# Small helpers


def _base62_id(number: int) -> str:
    digits = []
    for _ in range(22):
        number, remainder = divmod(number, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits))


class _Factory:
    """Ids, names and dates drawn from one seeded random generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_ids: set[str] = {VARIOUS_ARTISTS_ID, *SAMPLE_PLAYLIST_IDS}
        self.used_artist_names: set[str] = set()

    def spotify_id(self) -> str:
        while True:
            candidate = _base62_id(self.rng.getrandbits(128))
            if candidate not in self.used_ids and not candidate.startswith(_EDITORIAL_PREFIX):
                self.used_ids.add(candidate)
                return candidate

    def hex24(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def user_id(self) -> str:
        return "31" + "".join(
            self.rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(26)
        )

    def artist_name(self) -> str:
        rng = self.rng
        for _ in range(50):
            style = rng.random()
            if style < 0.45:
                name = f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
            elif style < 0.75:
                name = f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            elif style < 0.9:
                name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            else:
                name = f"{rng.choice(_FIRST_NAMES)} & the {rng.choice(_NOUNS)}"
            if name not in self.used_artist_names:
                break
        self.used_artist_names.add(name)
        return name

    def album_name(self) -> str:
        rng = self.rng
        style = rng.random()
        if style < 0.3:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_SINGLE_NOUNS)}"
        elif style < 0.5:
            base = f"{rng.choice(_SINGLE_NOUNS)} {rng.choice(_PREPOSITIONS)} {rng.choice(_NOUNS)}"
        elif style < 0.7:
            base = f"{rng.choice(_NOUNS)} of {rng.choice(_SINGLE_NOUNS)}"
        elif style < 0.85:
            base = rng.choice(_SINGLE_NOUNS)
        else:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        return base + rng.choice(_ALBUM_SUFFIXES)

    def track_name(self) -> str:
        rng = self.rng
        style = rng.random()
        if style < 0.25:
            base = f"{rng.choice(_ADJECTIVES)} {rng.choice(_SINGLE_NOUNS)}"
        elif style < 0.45:
            base = rng.choice(_VERB_PHRASES)
        elif style < 0.6:
            preposition, noun = rng.choice(_PREPOSITIONS), rng.choice(_SINGLE_NOUNS)
            base = f"{rng.choice(_VERB_PHRASES)} {preposition} {noun}"
        elif style < 0.75:
            base = rng.choice(_SINGLE_NOUNS)
        elif style < 0.9:
            base = f"{rng.choice(_SINGLE_NOUNS)} {rng.choice(_PREPOSITIONS)} {rng.choice(_NOUNS)}"
        else:
            base = f"{rng.choice(_SINGLE_NOUNS)} ({rng.choice(_VERB_PHRASES)})"
        return base + rng.choice(_TRACK_SUFFIXES)

    def release(self, earliest_year: int = 1962, latest: dt.date = dt.date(2026, 8, 28)) -> tuple:
        rng = self.rng
        day = dt.date(earliest_year, 1, 1) + dt.timedelta(
            days=rng.randrange((latest - dt.date(earliest_year, 1, 1)).days)
        )
        style = rng.random()
        if day.year < 1985 and style < 0.35:
            return str(day.year), "year"
        if style < 0.05:
            return day.strftime("%Y-%m"), "month"
        return day.isoformat(), "day"

    def isrc(self, year: int) -> str:
        rng = self.rng
        registrant = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(3))
        return (
            f"{rng.choice(_ISRC_COUNTRIES)}{registrant}{year % 100:02d}{rng.randrange(100000):05d}"
        )

    def duration_ms(self) -> int:
        value = int(self.rng.gauss(215_000, 55_000))
        return max(90_000, min(600_000, value))

    def timestamp(self, start: dt.datetime, end: dt.datetime) -> str:
        seconds = int((end - start).total_seconds())
        return (start + dt.timedelta(seconds=self.rng.randrange(seconds))).strftime(_TIME_FORMAT)

    def timestamps(self, count: int, start: dt.datetime, end: dt.datetime) -> list[str]:
        return sorted(self.timestamp(start, end) for _ in range(count))


def _week_start(week_index: int) -> dt.datetime:
    return dt.datetime.fromisoformat(SAMPLE_WEEKS[week_index] + "T00:00:00")


def _week_window(week_index: int) -> tuple[dt.datetime, dt.datetime]:
    start = _week_start(week_index)
    return start, start + dt.timedelta(days=7)


def _year_of(release_date: str) -> int:
    return int(release_date[:4])


# --------------------------------------------------------------------------------------------
# Records (internal) and the API objects built from them


def _artist(artist_id: str, name: str) -> dict:
    return {"id": artist_id, "name": name}


def _album(
    factory: _Factory,
    name: str,
    artists: list[dict],
    *,
    album_type: str = "album",
    total_tracks: int = 10,
    release: tuple[str, str] | None = None,
) -> dict:
    release_date, precision = release or factory.release()
    return {
        "id": factory.spotify_id(),
        "name": name,
        "album_type": album_type,
        "release_date": release_date,
        "release_date_precision": precision,
        "total_tracks": total_tracks,
        "artists": artists,
        "image": factory.hex24(),
        "popularity": factory.rng.randrange(5, 90),
    }


def _track(
    factory: _Factory,
    name: str,
    album: dict,
    artists: list[dict],
    *,
    track_number: int = 1,
    disc_number: int = 1,
    with_isrc: bool = True,
) -> dict:
    album_popularity = album["popularity"]
    return {
        "id": factory.spotify_id(),
        "name": name,
        "album": album,
        "artists": artists,
        "duration_ms": factory.duration_ms(),
        "explicit": factory.rng.random() < 0.15,
        "disc_number": disc_number,
        "track_number": track_number,
        "isrc": factory.isrc(_year_of(album["release_date"]) or 2000) if with_isrc else None,
        "popularity": max(0, min(100, album_popularity + factory.rng.randrange(-15, 16))),
    }


def _artist_object(artist: dict) -> dict:
    artist_id = artist["id"]
    return {
        "external_urls": {"spotify": f"{_OPEN}/artist/{artist_id}"},
        "href": f"{_API}/artists/{artist_id}",
        "id": artist_id,
        "name": artist["name"],
        "type": "artist",
        "uri": f"spotify:artist:{artist_id}",
    }


def _cover_images(prefixes: tuple, image: str) -> list[dict]:
    return [
        {"height": size, "url": f"https://i.scdn.co/image/{prefix}{image}", "width": size}
        for size, prefix in prefixes
    ]


def _album_object(album: dict, *, with_popularity: bool) -> dict:
    album_id = album["id"]
    obj = {
        "album_type": album["album_type"],
        "artists": [_artist_object(artist) for artist in album["artists"]],
        "external_urls": {"spotify": f"{_OPEN}/album/{album_id}"},
        "href": f"{_API}/albums/{album_id}",
        "id": album_id,
        "images": _cover_images(_ALBUM_COVER_PREFIXES, album["image"]),
        "name": album["name"],
        "release_date": album["release_date"],
        "release_date_precision": album["release_date_precision"],
        "total_tracks": album["total_tracks"],
        "type": "album",
        "uri": f"spotify:album:{album_id}",
    }
    if with_popularity:
        obj["popularity"] = album["popularity"]
    return obj


def _track_object(track: dict, *, with_popularity: bool) -> dict:
    track_id = track["id"]
    obj = {
        "album": _album_object(track["album"], with_popularity=with_popularity),
        "artists": [_artist_object(artist) for artist in track["artists"]],
        "disc_number": track["disc_number"],
        "duration_ms": track["duration_ms"],
        "explicit": track["explicit"],
        "external_ids": {"isrc": track["isrc"]} if track["isrc"] else {},
        "external_urls": {"spotify": f"{_OPEN}/track/{track_id}"},
        "href": f"{_API}/tracks/{track_id}",
        "id": track_id,
        "is_local": False,
        "name": track["name"],
        "track_number": track["track_number"],
        "type": "track",
        "uri": f"spotify:track:{track_id}",
    }
    if with_popularity:
        obj["popularity"] = track["popularity"]
    return obj


def _show_object(show: dict) -> dict:
    show_id = show["id"]
    return {
        "copyrights": [],
        "description": show["description"],
        "explicit": show["explicit"],
        "external_urls": {"spotify": f"{_OPEN}/show/{show_id}"},
        "href": f"{_API}/shows/{show_id}",
        "html_description": f"<p>{show['description']}</p>",
        "id": show_id,
        "images": _cover_images(_SHOW_COVER_PREFIXES, show["image"]),
        "is_externally_hosted": False,
        "languages": show["languages"],
        "media_type": "audio",
        "name": show["name"],
        "publisher": show["publisher"],
        "total_episodes": show["total_episodes"],
        "type": "show",
        "uri": f"spotify:show:{show_id}",
    }


def _episode_object(episode: dict) -> dict:
    episode_id = episode["id"]
    return {
        "audio_preview_url": None,
        "description": episode["description"],
        "duration_ms": episode["duration_ms"],
        "explicit": episode["explicit"],
        "external_urls": {"spotify": f"{_OPEN}/episode/{episode_id}"},
        "href": f"{_API}/episodes/{episode_id}",
        "html_description": f"<p>{episode['description']}</p>",
        "id": episode_id,
        "images": _cover_images(_SHOW_COVER_PREFIXES, episode["image"]),
        "is_externally_hosted": False,
        "is_playable": True,
        "languages": episode["show"]["languages"],
        "name": episode["name"],
        "release_date": episode["release_date"],
        "release_date_precision": "day",
        "show": _show_object(episode["show"]),
        "type": "episode",
        "uri": f"spotify:episode:{episode_id}",
    }


def _local_uri_part(text: str) -> str:
    return urllib.parse.quote_plus(text, safe="")


def _local_object(local: dict) -> dict:
    """A local file as the API returns it: every id, href and uri null but the track's own uri."""
    seconds = local["duration_ms"] // 1000
    uri = ":".join(
        ["spotify", "local"]
        + [_local_uri_part(local[key]) for key in ("artist", "album", "name")]
        + [str(seconds)]
    )
    return {
        "album": {
            "album_type": None,
            "artists": [],
            "external_urls": {},
            "href": None,
            "id": None,
            "images": [],
            "name": local["album"],
            "release_date": None,
            "release_date_precision": None,
            "type": "album",
            "uri": None,
        },
        "artists": [
            {
                "external_urls": {},
                "href": None,
                "id": None,
                "name": local["artist"],
                "type": "artist",
                "uri": None,
            }
        ],
        "disc_number": 0,
        "duration_ms": local["duration_ms"],
        "explicit": False,
        "external_ids": {},
        "external_urls": {},
        "href": None,
        "id": None,
        "is_local": True,
        "name": local["name"],
        "track_number": 0,
        "type": "track",
        "uri": uri,
    }


def _user_object(user_id: str) -> dict:
    return {
        "external_urls": {"spotify": f"{_OPEN}/user/{user_id}"},
        "href": f"{_API}/users/{user_id}",
        "id": user_id,
        "type": "user",
        "uri": f"spotify:user:{user_id}",
    }


def _owner_object() -> dict:
    return {"display_name": OWNER_DISPLAY_NAME, **_user_object(OWNER_ID)}


# An entry record: {"kind": "track" | "episode" | "local" | "null", "ref": record or None,
#  "added_at": str | None, "added_by": user id | None, "both": bool}. Records are shared across
# weeks and never mutated, so an entry that stays keeps its added_at.


def _entry(
    kind: str, ref: dict | None, added_at: str | None, added_by: str | None = OWNER_ID
) -> dict:
    return {"kind": kind, "ref": ref, "added_at": added_at, "added_by": added_by, "both": False}


def _item_object(entry: dict, *, with_popularity: bool) -> dict | None:
    kind = entry["kind"]
    if kind == "track":
        return _track_object(entry["ref"], with_popularity=with_popularity)
    if kind == "episode":
        return _episode_object(entry["ref"])
    if kind == "local":
        return _local_object(entry["ref"])
    return None


def _entry_object(entry: dict, *, shape: str) -> dict:
    with_popularity = shape == "tracks"
    obj = {
        "added_at": entry["added_at"],
        "added_by": None if entry["added_by"] is None else _user_object(entry["added_by"]),
        "is_local": entry["kind"] == "local",
        "primary_color": None,
        "video_thumbnail": {"url": None},
    }
    if shape == "items":
        obj["item"] = _item_object(entry, with_popularity=False)
        if entry["both"]:
            obj["track"] = _item_object(entry, with_popularity=False)
    else:
        obj["track"] = _item_object(entry, with_popularity=with_popularity)
    return obj


def snapshot_id_for(playlist: dict) -> str:
    """The snapshot id our synthetic playlists carry: a hash of everything a user can edit.

    Equal name, description, flags and entries give an equal id; any difference gives another.
    Covers are left out, as Spotify derives mosaics from the entries anyway.
    """
    paging = playlist.get("items") if "items" in playlist else playlist.get("tracks")
    content = {
        "collaborative": playlist.get("collaborative"),
        "description": playlist.get("description"),
        "entries": (paging or {}).get("items", []),
        "name": playlist.get("name"),
        "public": playlist.get("public"),
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(encoded.encode("utf-8")).digest()
    return base64.b64encode(b"\x00\x00\x00" + digest[:21]).decode("ascii")


def _mosaic_images(entries: Sequence[dict]) -> list[dict]:
    covers: list[str] = []
    for entry in entries:
        if entry["kind"] == "track" and entry["ref"]["album"]["image"] not in covers:
            covers.append(entry["ref"]["album"]["image"])
    if not covers:
        return []
    if len(covers) < 4:
        return _cover_images(_ALBUM_COVER_PREFIXES, covers[0])
    path = "".join(f"ab67616d00001e02{cover}" for cover in covers[:4])
    return [
        {"height": size, "url": f"https://mosaic.scdn.co/{size}/{path}", "width": size}
        for size in (640, 300, 60)
    ]


def _custom_cover(image: str) -> list[dict]:
    return [
        {
            "height": None,
            "url": f"https://image-cdn-ak.spotifycdn.com/image/ab67706c0000da84{image}",
            "width": None,
        }
    ]


def _paging_object(playlist_id: str, items: list[dict], *, shape: str) -> dict:
    # Older apps read the embedded page from the deprecated /tracks, 100 per page.
    limit = 50 if shape == "items" else 100
    return {
        "href": f"{_API}/playlists/{playlist_id}/{shape}?offset=0&limit={limit}",
        "items": items,
        "limit": limit,
        "next": None,
        "offset": 0,
        "previous": None,
        "total": len(items),
    }


def _playlist_object(meta: dict, entries: Sequence[dict]) -> dict:
    playlist_id = meta["id"]
    shape = meta["shape"]
    items = [_entry_object(entry, shape=shape) for entry in entries]
    if not entries:
        images: list[dict] = []
    elif meta.get("cover"):
        images = _custom_cover(meta["cover"])
    else:
        images = _mosaic_images(entries)
    playlist = {
        "collaborative": meta["collaborative"],
        "description": meta["description"],
        "external_urls": {"spotify": f"{_OPEN}/playlist/{playlist_id}"},
        "href": f"{_API}/playlists/{playlist_id}",
        "id": playlist_id,
        "images": images,
        shape: _paging_object(playlist_id, items, shape=shape),
        "name": meta["name"],
        "owner": _owner_object(),
        "public": meta["public"],
        "snapshot_id": "",
        "type": "playlist",
        "uri": f"spotify:playlist:{playlist_id}",
    }
    playlist["snapshot_id"] = snapshot_id_for(playlist)
    return playlist


# --------------------------------------------------------------------------------------------
# The shared pool of artists, albums and tracks


def _build_pool(factory: _Factory, n_artists: int, n_albums: int, *, min_tracks: int = 6) -> dict:
    """Artists with one to several albums each, every album with all its tracks."""
    rng = factory.rng
    artists = [_artist(factory.spotify_id(), factory.artist_name()) for _ in range(n_artists)]
    album_owners = list(artists)  # every artist gets at least one album
    while len(album_owners) < n_albums:
        album_owners.append(rng.choice(artists[: max(1, n_artists // 2)]))
    album_owners = album_owners[:n_albums]
    rng.shuffle(album_owners)

    albums: list[dict] = []
    tracks: list[dict] = []
    for owner in album_owners:
        style = rng.random()
        if style < 0.2:
            album_type, total = "single", rng.randint(1, 3)
        elif style < 0.3:
            album_type, total = "album", rng.randint(4, 6)
        else:
            album_type, total = "album", rng.randint(min_tracks + 2, 18)
        album_artists = [owner]
        if rng.random() < 0.06:
            album_artists.append(rng.choice([a for a in artists if a is not owner] or [owner]))
        name = factory.album_name() if album_type == "album" else factory.track_name()
        album = _album(factory, name, album_artists, album_type=album_type, total_tracks=total)
        albums.append(album)
        discs = 2 if total >= 16 else 1
        per_disc = (total + discs - 1) // discs
        for number in range(total):
            track_artists = list(album_artists)
            roll = rng.random()
            if roll < 0.08:
                track_artists.append(rng.choice(artists))
            elif roll < 0.1:
                track_artists += rng.sample(artists, 2)
            track_artists = list({a["id"]: a for a in track_artists}.values())
            track_name = name if album_type == "single" and number == 0 else factory.track_name()
            tracks.append(
                _track(
                    factory,
                    track_name,
                    album,
                    track_artists,
                    track_number=number % per_disc + 1,
                    disc_number=number // per_disc + 1,
                )
            )
    return {"artists": artists, "albums": albums, "tracks": tracks}


# --------------------------------------------------------------------------------------------
# The committed sample dataset


def _simulate_churn(
    factory: _Factory,
    initial: list[dict],
    candidates: list[dict],
    *,
    changing_weeks: Sequence[int],
    adds: tuple[int, int],
    inserts: tuple[int, int],
    removes: tuple[int, int],
    moves: tuple[int, int],
    users: Sequence[str] = (OWNER_ID,),
    protected: Sequence[dict] = (),
    floor: int = 0,
) -> list[list[dict]]:
    """Entries per week: additions at the end and in the middle, removals and moves."""
    rng = factory.rng
    state = list(initial)
    removed: list[dict] = []
    unused = [t for t in candidates if all(e["ref"] is not t for e in state)]
    protected_ids = {id(entry) for entry in protected}
    weeks = [list(state)]

    def pick_track() -> dict:
        if removed and rng.random() < 0.2:
            return removed.pop(rng.randrange(len(removed)))
        return unused.pop(rng.randrange(len(unused)))

    for week_index in range(1, len(SAMPLE_WEEKS)):
        if week_index in changing_weeks:
            start, end = _week_window(week_index)
            for _ in range(min(rng.randint(*removes), max(0, len(state) - floor))):
                choices = [i for i, e in enumerate(state) if id(e) not in protected_ids]
                entry = state.pop(rng.choice(choices))
                if entry["kind"] == "track":
                    removed.append(entry["ref"])
            for _ in range(rng.randint(*moves)):
                entry = state.pop(rng.randrange(len(state)))
                state.insert(rng.randrange(len(state) + 1), entry)
            n_inserts, n_adds = rng.randint(*inserts), rng.randint(*adds)
            times = factory.timestamps(n_inserts + n_adds, start, end)
            for added_at in times[:n_inserts]:
                new = _entry("track", pick_track(), added_at, rng.choice(users))
                state.insert(rng.randrange(1, len(state)), new)
            for added_at in times[n_inserts:]:
                state.append(_entry("track", pick_track(), added_at, rng.choice(users)))
        weeks.append(list(state))
    return weeks


def _main_playlist(factory: _Factory, pool: dict, no_isrc: list[dict]) -> list[list[dict]]:
    rng = factory.rng
    candidates = [t for t in pool["tracks"] if t not in no_isrc]
    rng.shuffle(candidates)
    chosen = candidates[: MAIN_INITIAL_SIZE - len(no_isrc)] + no_isrc
    rng.shuffle(chosen)
    times = factory.timestamps(len(chosen) - 4, dt.datetime(2023, 2, 1), _week_start(0))
    times += factory.timestamps(4, *_week_window(0))
    initial = [
        _entry("track", track, added_at) for track, added_at in zip(chosen, times, strict=True)
    ]
    protected = [e for e in initial if e["ref"] in no_isrc]
    changing = [w for w in range(1, len(SAMPLE_WEEKS)) if w != MAIN_UNCHANGED_WEEK]
    return _simulate_churn(
        factory,
        initial,
        candidates[MAIN_INITIAL_SIZE:],
        changing_weeks=changing,
        adds=(0, 2),
        inserts=(1, 2),
        removes=(1, 4),
        moves=(1, 3),
        protected=protected,
        floor=MAIN_INITIAL_SIZE - 1,
    )


def _collaborative_playlist(
    factory: _Factory, pool: dict, shared: list[dict]
) -> tuple[list[list[dict]], list[str]]:
    rng = factory.rng
    users = [OWNER_ID, factory.user_id(), "mira.okafor"]
    candidates = [t for t in pool["tracks"] if t not in shared]
    rng.shuffle(candidates)
    chosen = candidates[:22] + shared
    rng.shuffle(chosen)
    times = factory.timestamps(len(chosen), dt.datetime(2025, 5, 1), _week_start(0))
    initial = [
        _entry("track", track, added_at, users[i % 3])
        for i, (track, added_at) in enumerate(zip(chosen, times, strict=True))
    ]
    # Old entries from before Spotify recorded who added what, and a deleted account.
    initial[0] = {**initial[0], "added_by": None}
    initial[4] = {**initial[4], "added_by": ""}
    initial[9] = {**initial[9], "added_at": None}
    protected = [initial[0], initial[4], initial[9]]
    changing = [w for w in range(1, len(SAMPLE_WEEKS)) if w != COLLABORATIVE_DESCRIPTION_ONLY_WEEK]
    weeks = _simulate_churn(
        factory,
        initial,
        candidates[22:120],
        changing_weeks=changing,
        adds=(0, 1),
        inserts=(0, 1),
        removes=(0, 2),
        moves=(0, 1),
        users=users,
        protected=protected,
        floor=30,
    )
    return weeks, users


def _older_shape_playlist(factory: _Factory, pool: dict, shared: list[dict]) -> list[list[dict]]:
    rng = factory.rng
    old_tracks = [
        t for t in pool["tracks"] if _year_of(t["album"]["release_date"]) < 2005 and t not in shared
    ]
    rng.shuffle(old_tracks)
    chosen = old_tracks[:24] + shared
    rng.shuffle(chosen)
    times = factory.timestamps(len(chosen), dt.datetime(2019, 3, 1), dt.datetime(2024, 1, 1))
    initial = [
        _entry("track", track, added_at) for track, added_at in zip(chosen, times, strict=True)
    ]
    return _simulate_churn(
        factory,
        initial,
        old_tracks[24:],
        changing_weeks=OLDER_SHAPE_CHANGE_WEEKS,
        adds=(0, 1),
        inserts=(1, 1),
        removes=(1, 2),
        moves=(0, 2),
        floor=30,
    )


def _small_playlist(factory: _Factory, pool: dict) -> list[list[dict]]:
    rng = factory.rng
    tracks = [t for t in pool["tracks"] if t["album"]["album_type"] != "compilation"]
    rng.shuffle(tracks)
    first, refill = tracks[:12], tracks[12:30]

    def entries(batch: list[dict], start: dt.datetime, end: dt.datetime) -> list[dict]:
        times = factory.timestamps(len(batch), start, end)
        return [
            _entry("track", track, added_at) for track, added_at in zip(batch, times, strict=True)
        ]

    weeks: list[list[dict]] = []
    state = entries(first[:8], dt.datetime(2026, 6, 1), _week_start(0))
    weeks.append(list(state))  # week 0: 8 entries
    state.append(entries(first[8:9], *_week_window(1))[0])
    weeks.append(list(state))  # week 1: +1
    del state[2], state[5]
    weeks.append(list(state))  # week 2: -2
    state = []
    weeks.append(list(state))  # week 3: cleared
    state = entries(refill[:6], *_week_window(4))
    weeks.append(list(state))  # week 4: refilled with 6
    state += entries(refill[6:8], *_week_window(5))
    weeks.append(list(state))  # week 5: +2 at the end
    weeks.append(list(state))  # week 6: unchanged
    state.insert(0, state.pop())
    state.insert(3, entries(refill[8:9], *_week_window(7))[0])
    weeks.append(list(state))  # week 7: moved to the top, one inserted
    del state[4]
    weeks.append(list(state))  # week 8: -1
    state += entries(refill[9:11], *_week_window(9))
    weeks.append(list(state))  # week 9: +2
    return weeks


def _edge_case_catalogue(factory: _Factory, pool: dict) -> dict[str, Any]:
    """Hand-made artists, albums, tracks, episodes and local files with every odd value."""
    rng = factory.rng

    def artist(name: str) -> dict:
        return _artist(factory.spotify_id(), name)

    def album(name, artists, release=None, album_type="album", total=10) -> dict:
        return _album(
            factory, name, artists, album_type=album_type, total_tracks=total, release=release
        )

    def track(name, alb, artists, number=1, with_isrc=True) -> dict:
        return _track(factory, name, alb, artists, track_number=number, with_isrc=with_isrc)

    various = _artist(VARIOUS_ARTISTS_ID, "Various Artists")
    pool_artists = pool["artists"]
    japanese = artist("星野ひかり")
    russian = artist("Белые Ночи")
    arabic = artist("نور الهدى")
    greek = artist("Μαρίνα Παππά")
    korean = artist("하늘빛")
    emoji = artist("DJ 🔥 Blaze")
    comma = artist("Hart, Stone & Vale")
    quoted = artist('Jimmy "The Voice" Calloway')
    newline = artist("The Carriage\r\nReturns")
    producer = artist("Nightshift Remix Collective")
    feat_a, feat_b, feat_c = artist("Kalani Brooks"), artist("MC Oblique"), artist("Suvi Aalto")

    compilation = album(
        "Late Night Drive, Vol. 3 🌙",
        [various],
        release=("2019-11-08", "day"),
        album_type="compilation",
        total=24,
    )
    remixes = album("Afterhours (The Remixes)", [producer], release=("2024-02-16", "day"), total=8)
    year_album = album("Sound of the Underground", [pool_artists[0]], release=("1981", "year"))
    month_album = album("December Tapes", [pool_artists[1]], release=("1981-12", "month"))
    day_album = album("Winter Light", [pool_artists[2]], release=("1981-12-15", "day"))
    zero_album = album("Lost Session Reels", [pool_artists[3]], release=("0000", "year"))
    taken_down = album("", [pool_artists[4]], release=("2015-06-05", "day"))

    catalogue = {
        "multi_artist": track(
            "Four Corners",
            album("Four Corners", [feat_a], ("2023-06-09", "day"), album_type="single", total=1),
            [feat_a, feat_b, feat_c, pool_artists[5]],
        ),
        "compilation_1": track("Streetlights", compilation, [pool_artists[6]], number=4),
        "compilation_2": track("Cruise Control", compilation, [korean, emoji], number=11),
        "album_artists_differ": track(
            "Afterhours - Nightshift Remix", remixes, [pool_artists[7], feat_b], number=2
        ),
        "year_precision": track("Cold Open", year_album, [pool_artists[0]], number=3),
        "month_precision": track("Snowfall Static", month_album, [pool_artists[1]], number=5),
        "day_precision": track("First Frost", day_album, [pool_artists[2]], number=1),
        "zero_date": track("Reel 7", zero_album, [pool_artists[3]], number=7, with_isrc=False),
        "empty_album_name": track("Gone Tomorrow", taken_down, [pool_artists[4]], number=2),
        "empty_track_name": track(
            "", album("Untitled Demos", [pool_artists[8]]), [pool_artists[8]]
        ),
        "japanese": track(
            "東京タワーの灯り",
            album("真夜中のドライブ", [japanese], ("2021-03-17", "day"), total=11),
            [japanese],
            number=6,
        ),
        "cyrillic": track(
            "Письмо домой",
            album("Звёздный путь, часть 2", [russian], ("1989-04", "month"), total=9),
            [russian],
        ),
        "arabic": track(
            "على شاطئ البحر", album("ليالي القاهرة", [arabic], ("2017", "year")), [arabic], number=4
        ),
        "greek": track(
            "Θάλασσα",
            album("Καλοκαίρι στην Αθήνα", [greek], ("2008-07-01", "day"), total=12),
            [greek],
            number=8,
        ),
        "hangul": track(
            "너에게 가는 길", album("봄날의 기억", [korean], ("2022-04-05", "day")), [korean]
        ),
        "emoji": track(
            "Flags 🇯🇵🇰🇷🇧🇷 Everywhere",
            album("👩‍🎤 Stage Fright", [emoji], ("2025-10-31", "day"), total=12),
            [emoji],
            number=9,
        ),
        "rainbow": track("🏳️‍🌈 Parade", album("Pride, Loud 🏳️‍🌈", [emoji, quoted]), [emoji]),
        "comma": track(
            "Love, Actually, Maybe", album("Hearts, Minds, Etc.", [comma], total=10), [comma]
        ),
        "quote": track(
            'She Said "Hello"', album('The "Heroes" Tapes', [quoted], total=10), [quoted], number=3
        ),
        "newline": track(
            "First Line\nSecond Line", album("Side A\nSide B", [newline], total=2), [newline]
        ),
        "carriage_return": track(
            "Windows\r\nLine Endings", album("CRLF, Vol. 1", [newline], total=6), [newline]
        ),
    }
    show_ru = {
        "id": factory.spotify_id(),
        "name": "Ночной эфир 🎙️",
        "publisher": "Радио «Полночь»",
        "description": "Разговоры о музыке после полуночи.",
        "image": factory.hex24(),
        "total_episodes": 212,
        "languages": ["ru"],
        "explicit": False,
    }
    show_en = {
        "id": factory.spotify_id(),
        "name": 'Liner Notes, "Unabridged"',
        "publisher": "Liner Notes Media",
        "description": "Deep dives into the records behind the records.",
        "image": factory.hex24(),
        "total_episodes": 87,
        "languages": ["en"],
        "explicit": True,
    }
    catalogue["episode_1"] = {
        "id": factory.spotify_id(),
        "name": "Выпуск 212: Город, который не спит",
        "description": "Гости студии, новые релизы и письма слушателей.",
        "duration_ms": 3_187_000,
        "explicit": False,
        "release_date": "2026-08-30",
        "image": factory.hex24(),
        "show": show_ru,
    }
    catalogue["episode_2"] = {
        "id": factory.spotify_id(),
        "name": 'Ep. 87: "Side B", Revisited\n(Part 1)',
        "description": "Why the B-side is where the interesting stuff lives.",
        "duration_ms": 2_456_000,
        "explicit": True,
        "release_date": "2026-10-01",
        "image": factory.hex24(),
        "show": show_en,
    }
    catalogue["local_1"] = {
        "artist": "The Garage Band",
        "album": "Demo Tapes",
        "name": "Song For Later",
        "duration_ms": 127_000,
    }
    catalogue["local_2"] = {
        "artist": "星野ひかり",
        "album": "",
        "name": "Voice Memo #3, (rough)",
        "duration_ms": 95_400,
    }
    catalogue["goes_missing"] = rng.choice(pool["tracks"][:40])
    catalogue["duplicate"] = rng.choice(pool["tracks"][40:80])
    catalogue["both_keys"] = rng.choice(pool["tracks"][80:120])
    catalogue["filler"] = pool["tracks"][120:160]
    return catalogue


# Position of each labelled entry in the edge-case playlist's first week.
EDGE_CASE_LAYOUT = (
    "multi_artist",
    "compilation_1",
    "duplicate",
    "japanese",
    "local_1",
    "episode_1",
    "null",
    "year_precision",
    "month_precision",
    "day_precision",
    "zero_date",
    "duplicate",
    "cyrillic",
    "empty_album_name",
    "empty_track_name",
    "arabic",
    "compilation_2",
    "quote",
    "newline",
    "greek",
    "hangul",
    "emoji",
    "album_artists_differ",
    "both_keys",
    "local_2",
    "comma",
    "goes_missing",
    "duplicate",
    "rainbow",
    "carriage_return",
)


def _edge_case_playlist(factory: _Factory, pool: dict) -> list[list[dict]]:
    """Every odd value of the reference, with a scripted change in most weeks (see comments)."""
    catalogue = _edge_case_catalogue(factory, pool)
    filler = list(catalogue["filler"])
    times = iter(factory.timestamps(len(EDGE_CASE_LAYOUT), dt.datetime(2024, 4, 1), _week_start(0)))
    state: list[dict] = []
    for label in EDGE_CASE_LAYOUT:
        added_at = next(times)
        if label == "filler":
            state.append(_entry("track", filler.pop(0), added_at))
        elif label == "null":
            state.append(_entry("null", None, added_at))
        elif label.startswith("episode"):
            state.append(_entry("episode", catalogue[label], added_at))
        elif label.startswith("local"):
            state.append(_entry("local", catalogue[label], added_at))
        else:
            state.append(_entry("track", catalogue[label], added_at))
            if label == "both_keys":
                state[-1]["both"] = True
    weeks = [list(state)]

    def label_index(label: str) -> int:
        return next(i for i, e in enumerate(state) if e["ref"] is catalogue[label])

    for week_index in range(1, len(SAMPLE_WEEKS)):
        start, end = _week_window(week_index)
        if week_index == 1:  # one track appended
            state.append(_entry("track", filler.pop(0), factory.timestamp(start, end)))
        elif week_index == 2:  # a track taken down: the entry stays, its item turns null
            index = label_index("goes_missing")
            state[index] = {**state[index], "kind": "null", "ref": None}
        elif week_index == 3:  # one track inserted in the middle
            inserted = _entry("track", filler.pop(0), factory.timestamp(start, end))
            state.insert(10, inserted)
        elif week_index == 4:  # a second episode appended
            added_at = factory.timestamp(start, end)
            state.append(_entry("episode", catalogue["episode_2"], added_at))
        elif week_index == 5:  # the track inserted in week 3 removed again
            state.remove(inserted)
        elif week_index == 6:  # the first local file removed
            del state[label_index("local_1")]
        elif week_index == 7:  # two tracks appended by the owner
            for added_at in factory.timestamps(2, start, end):
                state.append(_entry("track", filler.pop(0), added_at))
        elif week_index == 8:  # the emoji track moved to the top
            state.insert(0, state.pop(label_index("emoji")))
        # week 9: unchanged
        weeks.append(list(state))
    return weeks


_PLAYLIST_METADATA: dict[str, dict] = {
    MAIN_PLAYLIST_ID: {
        "name": "Weekly Rotation",
        "description": "Everything I&#x27;m playing this autumn. Updated every weekend, "
        "oldest at the top.",
        "public": True,
        "collaborative": False,
        "shape": "items",
    },
    COLLABORATIVE_PLAYLIST_ID: {
        "name": "Road Trip 2026 (collab)",
        "description": "Add whatever keeps the driver awake. No skips, no rules.",
        "public": False,
        "collaborative": True,
        "shape": "items",
    },
    OLDER_SHAPE_PLAYLIST_ID: {
        "name": "Throwbacks Archive",
        "description": "Old favourites from before 2005, read by an older app: the deprecated "
        "tracks/track shape, with popularity.",
        "public": True,
        "collaborative": False,
        "shape": "tracks",
    },
    EDGE_CASES_PLAYLIST_ID: {
        "name": 'Edge Cases, "Odd" Ones ✨ 日本語 👩‍🎤🇯🇵',
        "description": 'Local files, podcasts & takedowns, "weird" on purpose.\n'
        "Кириллица · العربية · Ελληνικά · 한국어 · 日本語 🎧🏳️‍🌈🇺🇦",
        "public": False,
        "collaborative": False,
        "shape": "items",
    },
    SMALL_PLAYLIST_ID: {
        "name": "Sunday Morning",
        "description": "Slow coffee, slow songs.",
        "public": True,
        "collaborative": False,
        "shape": "items",
    },
}


def build_sample_dataset() -> dict[tuple[str, str], dict]:
    """Every (playlist_id, week) of the committed sample dataset, as the API returns it."""
    factory = _Factory(random.Random(_SAMPLE_SEED))
    pool = _build_pool(factory, n_artists=56, n_albums=96)
    rng = factory.rng
    tracks = pool["tracks"]
    for track in rng.sample(tracks[200:], 2):  # a couple of tracks without an ISRC
        track["isrc"] = None
    no_isrc = [t for t in tracks if t["isrc"] is None]

    metadata = {pid: {"id": pid, **meta} for pid, meta in _PLAYLIST_METADATA.items()}
    for pid in (COLLABORATIVE_PLAYLIST_ID, OLDER_SHAPE_PLAYLIST_ID, EDGE_CASES_PLAYLIST_ID):
        metadata[pid]["cover"] = factory.hex24()

    main_weeks = _main_playlist(factory, pool, no_isrc)
    in_main = [e["ref"] for e in main_weeks[0] if e["ref"]["isrc"]]
    shared_with_collaborative = rng.sample(in_main, 8)
    old_in_main = [t for t in in_main if _year_of(t["album"]["release_date"]) < 2005]
    shared_with_older = rng.sample(old_in_main, min(6, len(old_in_main)))
    collaborative_weeks, _ = _collaborative_playlist(factory, pool, shared_with_collaborative)
    older_weeks = _older_shape_playlist(factory, pool, shared_with_older)
    edge_weeks = _edge_case_playlist(factory, pool)
    small_weeks = _small_playlist(factory, pool)

    weeks_by_playlist = {
        MAIN_PLAYLIST_ID: main_weeks,
        COLLABORATIVE_PLAYLIST_ID: collaborative_weeks,
        OLDER_SHAPE_PLAYLIST_ID: older_weeks,
        EDGE_CASES_PLAYLIST_ID: edge_weeks,
        SMALL_PLAYLIST_ID: small_weeks,
    }
    dataset: dict[tuple[str, str], dict] = {}
    for playlist_id in SAMPLE_PLAYLIST_IDS:
        for week_index, week in enumerate(SAMPLE_WEEKS):
            meta = metadata[playlist_id]
            collaborative = playlist_id == COLLABORATIVE_PLAYLIST_ID
            if collaborative and week_index >= COLLABORATIVE_DESCRIPTION_ONLY_WEEK:
                meta = {**meta, "description": meta["description"] + " Now with snacks."}
            entries = weeks_by_playlist[playlist_id][week_index]
            dataset[(playlist_id, week)] = _playlist_object(meta, entries)
    return dataset


def dumps(playlist: dict) -> bytes:
    """The bytes of one sample file: UTF-8 JSON, keys sorted, one-space indent, final newline."""
    text = json.dumps(playlist, ensure_ascii=False, indent=1, sort_keys=True)
    return (text + "\n").encode("utf-8")


def write_sample_dataset(root: pathlib.Path) -> list[pathlib.Path]:
    """Write ``<root>/<playlist_id>/<week>.json`` for the whole sample dataset; return the paths."""
    root = pathlib.Path(root)
    written = []
    for (playlist_id, week), playlist in sorted(build_sample_dataset().items()):
        path = root / playlist_id / f"{week}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = dumps(playlist)
        if not path.exists() or path.read_bytes() != data:
            temporary = path.with_name(path.name + ".tmp")
            temporary.write_bytes(data)
            temporary.replace(path)
        written.append(path)
    return written


# --------------------------------------------------------------------------------------------
# Large synthetic playlists for benchmarks


def synthetic_playlist(
    n_entries: int, *, seed: int = 0, playlist_id: str | None = None, shape: str = "items"
) -> dict:
    """A realistic playlist of ``n_entries`` tracks, deterministic for equal arguments.

    About n/8 artists and n/10 albums, a few tracks at two positions, featured artists, added_at
    rising along the playlist. ``shape`` is ``"items"`` (2026) or ``"tracks"`` (older apps, with
    popularity).
    """
    if shape not in ("items", "tracks"):
        raise ValueError(f"shape must be 'items' or 'tracks', not {shape!r}")
    if n_entries < 0:
        raise ValueError("n_entries must not be negative")
    factory = _Factory(random.Random(f"synthetic:{seed}:{n_entries}"))
    rng = factory.rng
    pool = _build_pool(
        factory, n_artists=max(1, n_entries // 8), n_albums=max(1, n_entries // 10), min_tracks=9
    )
    tracks = pool["tracks"]
    rng.shuffle(tracks)
    chosen: list[dict] = []
    for index in range(n_entries):
        if chosen and (index >= len(tracks) or rng.random() < 0.02):
            chosen.append(rng.choice(chosen))
        else:
            chosen.append(tracks[index])
    times = factory.timestamps(n_entries, dt.datetime(2019, 1, 1), _week_start(0))
    entries = [
        _entry("track", track, added_at) for track, added_at in zip(chosen, times, strict=True)
    ]
    meta = {
        "id": playlist_id or factory.spotify_id(),
        "name": f"Synthetic benchmark ({n_entries:,} entries)",
        "description": f"Generated by spotify_assets, seed {seed}.",
        "public": True,
        "collaborative": False,
        "shape": shape,
    }
    return _playlist_object(meta, entries)


def churn(playlist: dict, fraction: float, *, seed: int = 0) -> dict:
    """A copy of ``playlist`` with ``round(fraction * total)`` entries replaced by other tracks.

    Replacements keep their positions, take an album and its artists from another entry, and
    are added by the owner just after the newest entry. ``fraction`` 0.0 gives an identical copy,
    snapshot id included; otherwise the snapshot id changes with the content.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0.0 and 1.0")
    result = json.loads(json.dumps(playlist))
    shape = "items" if "items" in result else "tracks"
    item_key = "item" if shape == "items" else "track"
    entries = result[shape]["items"]
    n_changes = round(fraction * len(entries))
    if n_changes == 0:
        return result

    factory = _Factory(random.Random(f"churn:{seed}:{result.get('snapshot_id')}:{fraction}"))
    rng = factory.rng
    donors = [
        entry[item_key]
        for entry in entries
        if entry.get(item_key) and entry[item_key].get("album", {}).get("id")
    ]
    for entry in entries:
        item = entry.get(item_key) or {}
        if item.get("id"):
            factory.used_ids.add(item["id"])
    latest = max((e["added_at"] for e in entries if e.get("added_at")), default=None)
    start = dt.datetime.strptime(latest, _TIME_FORMAT) if latest else _week_start(0)
    owner_id = (result.get("owner") or {}).get("id") or OWNER_ID
    with_popularity = shape == "tracks"

    fallback_artist = _artist(factory.spotify_id(), factory.artist_name())
    fallback_album = _album(factory, factory.album_name(), [fallback_artist])
    for position in sorted(rng.sample(range(len(entries)), n_changes)):
        track = _track(factory, factory.track_name(), fallback_album, [fallback_artist])
        replacement = _track_object(track, with_popularity=with_popularity)
        if donors:
            donor = rng.choice(donors)
            replacement["album"] = json.loads(json.dumps(donor["album"]))
            replacement["artists"] = json.loads(json.dumps(donor.get("artists") or []))
            total_tracks = replacement["album"].get("total_tracks") or 1
            replacement["track_number"] = rng.randint(1, max(1, total_tracks))
        added_at = factory.timestamp(start + dt.timedelta(seconds=1), start + dt.timedelta(days=7))
        entries[position] = {
            "added_at": added_at,
            "added_by": _user_object(owner_id),
            "is_local": False,
            item_key: replacement,
            "primary_color": None,
            "video_thumbnail": {"url": None},
        }
    result["snapshot_id"] = snapshot_id_for(result)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the synthetic sample dataset.")
    parser.add_argument("--out", type=pathlib.Path, default=SAMPLE_DATA_DIR, help="target folder")
    args = parser.parse_args(argv)
    paths = write_sample_dataset(args.out)
    size = sum(path.stat().st_size for path in paths)
    print(f"wrote {len(paths)} files, {size:,} bytes, under {args.out}")


if __name__ == "__main__":
    main()
