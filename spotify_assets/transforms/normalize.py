"""Playlist JSON in, tables out. No Dagster and no AWS here: plain functions, tested on their own.

A playlist document is what ``GET /playlists/{id}`` returns, with every page of entries merged
into its paging object: ``items`` (2026) or ``tracks`` (older apps), each entry holding its item
under ``item`` (2026) or ``track`` (older), sometimes both.

Two paths, one result. Given the document's JSON bytes, the tables are built from its typed
view (:mod:`spotify_assets.transforms.decode`): msgspec checks the types below and builds only
the fields the tables take, the entries a chunk at a time and straight into Arrow, in less time
than ``json.loads`` takes to build the whole document and in a fraction of its memory. A
document the typed view refuses, or that holds what only the checks below refuse, is parsed
with ``json`` and goes the checked path, field by field, which says exactly what is wrong; a
document given already parsed goes that path too. Both give the same tables, byte for byte
(``spotify_assets_tests/test_normalize_paths.py``).

Types at the edge. Every field the tables use is checked here, before any table is built, and a
value of the wrong type or out of range is refused with a :class:`PlaylistFormatError` naming the
playlist, the week, the entry's position and the field (``item.album.total_tracks``): nothing is
coerced on the way into the tables. Null (or absent) is accepted wherever Spotify may leave a
field out, and stays null.

Refused:

- ``id``, ``uri``, ``name``, ``type``, ``snapshot_id``, ``release_date``,
  ``release_date_precision``, ``album_type``, ``isrc``, ``external_urls.spotify``,
  ``added_by.id``, and the playlist's ``description``, ``owner.id`` and ``owner.display_name``
  that are not strings (a number where an id belongs, say);
- ``duration_ms``, ``disc_number``, ``track_number``, ``total_tracks`` and the playlist's
  ``followers.total`` that are not non-negative integers (``1.5``, ``-1``, ``"200000"`` and
  ``true`` are all refused); ``popularity`` that is not an integer from 0 to 100;
- ``explicit``, ``is_local`` and the playlist's ``public`` and ``collaborative`` that are not
  booleans (``"false"`` and ``0`` are refused);
- ``added_at`` that is not an ISO-8601 time;
- the paging object's ``total`` when it is not a non-negative integer (``"31"`` is refused);
- ``linked_from`` that is not an object with a string ``id``;
- a playlist that has tracks but none of them with an ``id``: Spotify returns removed items as
  null, so an object with no id on every entry is a document that lost its ids, not a playlist
  whose every track was taken down.

Null: ``release_year`` when ``release_date`` is a string but not a real date in one of Spotify's
three shapes (``"1981"``, ``"1981-12"``, ``"1981-12-15"``): ``"0000"``, ``"2026-13-45"`` and
``"soon"`` all give a null ``release_year`` and keep the string as it came in ``release_date``.
An impossible date is Spotify's data about one album, not a broken document, so it does not fail
the whole playlist; the raw string stays there for anyone who wants to see it.

Relinking: when Spotify relinks a track for the reader's market, the entry's item is the playable
track and ``linked_from`` names the track the playlist holds. A song is the playlist's own track:
``song_id``, the entry's ``uri`` and the song's ``url`` come from ``linked_from``, and
``playlist_entries.playable_song_id`` keeps the playable track's id (null when not relinked).
"""

import datetime as dt
import html
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from spotify_assets.transforms import decode, schema
from spotify_assets.transforms.decode import DecodedPlaylist, decode_playlist

TRACK = "track"
EPISODE = "episode"
LOCAL = "local"
UNAVAILABLE = "unavailable"

POPULARITY_MAX = 100
# Spotify's release_date shapes, by length: year, month or day precision.
RELEASE_DATE_FORMATS = {4: "%Y", 7: "%Y-%m", 10: "%Y-%m-%d"}


class PlaylistFormatError(ValueError):
    """A playlist document that is not what Spotify returns; says which playlist, week and what."""


class _WrongValue(ValueError):
    """A field of the wrong type or out of range, named by its path within the entry."""

    def __init__(self, field: str, value: Any, expected: str):
        super().__init__(f"'{field}' is {_shown(value)}, expected {expected}")


def _shown(value: Any) -> str:
    return f"{json.dumps(value, ensure_ascii=False)} ({type(value).__name__})"


def playlist_entries_page(playlist: Any, *, week: str) -> dict:
    """The paging object holding the playlist's entries (``items`` or the older ``tracks``)."""
    if not isinstance(playlist, dict):
        raise PlaylistFormatError(
            f"week {week}: expected a playlist object, got {type(playlist).__name__}"
        )
    where = f"playlist {playlist.get('id')!r}, week {week}"
    if not isinstance(playlist.get("id"), str) or not playlist["id"]:
        raise PlaylistFormatError(f"{where}: the document has no playlist 'id'")
    for key in ("items", "tracks"):
        page = playlist.get(key)
        if isinstance(page, dict) and isinstance(page.get("items"), list):
            return page
    raise PlaylistFormatError(
        f"{where}: no paging object of entries under 'items' or 'tracks' "
        "(Spotify leaves it out when the reader is not the playlist's owner or a collaborator)"
    )


# --- field checks: each returns the value (None when absent or null) or raises _WrongValue -----


def _text(obj: dict, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _WrongValue(f"{path}{key}", value, "a string")
    return value


def _count(obj: dict, key: str, path: str, maximum: int | None = None) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    in_range = (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= 0
        and (maximum is None or value <= maximum)
    )
    if not in_range:
        expected = f"an integer from 0 to {maximum}" if maximum else "a non-negative integer"
        raise _WrongValue(f"{path}{key}", value, expected)
    return value


def _flag(obj: dict, key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise _WrongValue(f"{path}{key}", value, "true or false")
    return value


def _object(obj: dict, key: str, path: str) -> dict:
    """``obj[key]`` as an object; absent or null is empty."""
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _WrongValue(f"{path}{key}", value, "an object")
    return value


def _list(obj: dict, key: str) -> list:
    """``obj[key]`` as a list; absent or null is empty, anything else is malformed."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'{key}' is {type(value).__name__}, not a list")
    return value


def _check_url(obj: dict, path: str) -> str | None:
    return _text(_object(obj, "external_urls", path), "spotify", f"{path}external_urls.")


def _check_artist(artist: Any, path: str) -> None:
    if not isinstance(artist, dict):
        raise _WrongValue(path.rstrip("."), artist, "an object")
    for key in ("id", "name", "uri"):
        _text(artist, key, path)
    _check_url(artist, path)


def _check_item(item: dict, path: str) -> None:
    """Every field of an item that a table or the CSV takes, whatever the item's type."""
    for key in ("id", "type", "uri", "name"):
        _text(item, key, path)
    _count(item, "duration_ms", path)
    _count(item, "disc_number", path)
    _count(item, "track_number", path)
    _count(item, "popularity", path, maximum=POPULARITY_MAX)
    _flag(item, "explicit", path)
    _flag(item, "is_local", path)
    _text(_object(item, "external_ids", path), "isrc", f"{path}external_ids.")
    _check_url(item, path)
    for position, artist in enumerate(_list(item, "artists")):
        _check_artist(artist, f"{path}artists[{position}].")
    album = _object(item, "album", path)
    album_path = f"{path}album."
    for key in ("id", "name", "release_date", "release_date_precision", "album_type"):
        _text(album, key, album_path)
    _count(album, "total_tracks", album_path)
    _check_url(album, album_path)
    for position, artist in enumerate(_list(album, "artists")):
        _check_artist(artist, f"{album_path}artists[{position}].")
    show = _object(item, "show", path)
    _text(show, "id", f"{path}show.")
    _text(show, "name", f"{path}show.")
    if item.get("linked_from") is not None:
        linked_from = _object(item, "linked_from", path)
        own_id = _text(linked_from, "id", f"{path}linked_from.")
        if not own_id:
            raise _WrongValue(f"{path}linked_from.id", linked_from.get("id"), "a track id")
        _text(linked_from, "uri", f"{path}linked_from.")
        _check_url(linked_from, f"{path}linked_from.")


def _check_entry(entry: dict) -> None:
    _text(entry, "added_at", "")
    _flag(entry, "is_local", "")
    _text(_object(entry, "added_by", ""), "id", "added_by.")


def _entries(playlist: Any, week: str) -> list[tuple[int, dict, dict | None, str]]:
    """(position, entry, item, item_type) for every entry, in playlist order, each field the
    tables use checked for its type and range."""
    page = playlist_entries_page(playlist, week=week)
    where = f"playlist {playlist['id']!r}, week {week}"
    checked = list(_typed_entries(playlist, page, week))
    idless = [
        position
        for position, _, item, item_type in checked
        if item is not None and item_type == UNAVAILABLE
    ]
    if idless and not any(item_type == TRACK for _, _, _, item_type in checked):
        raise PlaylistFormatError(
            f"{where}: none of its {len(idless)} tracks has an 'id' (the first at position "
            f"{idless[0]}): refused rather than stored as {len(idless)} unavailable entries"
        )
    return checked


def _typed_entries(
    playlist: dict, page: dict, week: str
) -> Iterator[tuple[int, dict, dict | None, str]]:
    for position, entry in enumerate(page["items"]):
        at = f"playlist {playlist['id']!r}, week {week}: entry at position {position}"
        if not isinstance(entry, dict):
            raise PlaylistFormatError(f"{at} is {type(entry).__name__}, not an object")
        item_key = "item" if entry.get("item") is not None else "track"
        item = entry.get(item_key)
        if item is not None and not isinstance(item, dict):
            raise PlaylistFormatError(
                f"{at} has an item of type {type(item).__name__}, not an object"
            )
        try:
            _check_entry(entry)
            if item is not None:
                _check_item(item, f"{item_key}.")
        except _WrongValue as error:
            raise PlaylistFormatError(f"{at}: {error}") from None
        except TypeError as error:
            raise _malformed(playlist, week, position, error) from error
        if item is None:
            item_type = UNAVAILABLE
        elif entry.get("is_local") or item.get("is_local"):
            item_type = LOCAL
        elif item.get("type") == EPISODE:
            item_type = EPISODE
        elif item.get("id"):
            item_type = TRACK
        else:
            item_type = UNAVAILABLE
        yield position, entry, item, item_type


def _total(playlist: dict, week: str) -> int | None:
    """The paging object's ``total``, which the entry-count check compares with the entries."""
    page = playlist_entries_page(playlist, week=week)
    page_key = "items" if page is playlist.get("items") else "tracks"
    try:
        return _count(page, "total", f"{page_key}.")
    except _WrongValue as error:
        raise PlaylistFormatError(f"playlist {playlist['id']!r}, week {week}: {error}") from None


def _malformed(playlist: dict, week: str, position: int, error: Exception) -> PlaylistFormatError:
    return PlaylistFormatError(
        f"playlist {playlist['id']!r}, week {week}: entry at position {position} is malformed "
        f"({type(error).__name__}: {error})"
    )


def _added_by(entry: dict) -> str | None:
    user = entry.get("added_by")
    return (user.get("id") or None) if user else None


def _url(obj: dict) -> str | None:
    return (obj.get("external_urls") or {}).get("spotify")


def _release_year(release_date: str | None) -> int | None:
    """The year of a Spotify release date ("1981", "1981-12", "1981-12-15"); null when it is not
    a real date in one of those shapes, "0000" (Spotify does not know) included."""
    date_format = RELEASE_DATE_FORMATS.get(len(release_date or ""))
    if date_format is None or not release_date.replace("-", "").isdigit():
        return None
    try:
        return dt.datetime.strptime(release_date, date_format).year
    except ValueError:
        return None


def _table(columns: dict[str, list], table_schema: pa.Schema, where: str) -> pa.Table:
    try:
        return pa.Table.from_pydict(columns, schema=table_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise PlaylistFormatError(f"{where}: a value has the wrong type ({error})") from error


def _columns(table_schema: pa.Schema) -> dict[str, list]:
    return {name: [] for name in table_schema.names}


def playlist_attributes(playlist: dict, *, week: str) -> pa.Table:
    """The playlist's own attributes in this snapshot, as the one row of the ``playlists`` table:
    name, description (HTML entities decoded), owner, public, collaborative, snapshot id, the
    entries' ``total`` and the followers (null where Spotify leaves them out, as it does for
    Development Mode apps). An empty playlist is a row with ``total`` 0."""
    playlist_entries_page(playlist, week=week)  # fails early, naming the playlist and the week
    where = f"playlist {playlist['id']!r}, week {week}"
    try:
        owner = _object(playlist, "owner", "")
        description = _text(playlist, "description", "")
        row = {
            "name": _text(playlist, "name", ""),
            "description": html.unescape(description) if description else description,
            "owner_id": _text(owner, "id", "owner."),
            "owner_name": _text(owner, "display_name", "owner."),
            "public": _flag(playlist, "public", ""),
            "collaborative": _flag(playlist, "collaborative", ""),
            "snapshot_id": _text(playlist, "snapshot_id", ""),
            "total": _total(playlist, week),
            "followers": _count(_object(playlist, "followers", ""), "total", "followers."),
            "url": _check_url(playlist, ""),
        }
    except _WrongValue as error:
        raise PlaylistFormatError(f"{where}: {error}") from None
    return _table({name: [value] for name, value in row.items()}, schema.PLAYLISTS, where)


def normalize_playlist(
    playlist: bytes | DecodedPlaylist | dict, *, week: str
) -> dict[str, pa.Table]:
    """Split one playlist snapshot into the design's tables.

    ``playlist`` is the document's JSON bytes (read once, through its typed view), the same
    decoded by :func:`~spotify_assets.transforms.decode.decode_playlist`, or the document parsed
    by ``json``. Returns ``artists``, ``albums``, ``songs``, ``song_artists``,
    ``playlist_entries`` and ``playlists`` (:func:`playlist_attributes`) as pyarrow tables with
    the schemas of :mod:`spotify_assets.transforms.schema`. Songs, albums and artists come only
    from Spotify tracks; local files, episodes and removed items appear only in
    ``playlist_entries``, so positions still match the playlist. Within the snapshot the first
    occurrence of an entity wins, except ``song_added``, the earliest ``added_at``. A relinked
    track is the playlist's own track (``linked_from``), its playable id kept in
    ``playlist_entries.playable_song_id``.
    """
    return _typed_else_checked(playlist, week, _normalize_typed, _normalize_checked)


def flatten_playlist(playlist: bytes | DecodedPlaylist | dict, *, week: str) -> pa.Table:
    """One row per playlist entry, every field a scalar, for ``raw/playlist_csv``; ``playlist``
    as for :func:`normalize_playlist`."""
    return _typed_else_checked(playlist, week, _flatten_typed, _flatten_checked)


def _typed_else_checked(
    playlist: bytes | DecodedPlaylist | dict,
    week: str,
    typed_transform: Callable[[decode.Playlist, str], Any],
    checked_transform: Callable[..., Any],
) -> Any:
    """``typed_transform`` of the document's typed view when it has one and holds nothing the
    checks refuse; else ``checked_transform`` of the parsed document, which either gives the
    same result or raises the error that says what is wrong."""
    if isinstance(playlist, bytes):
        playlist = decode_playlist(playlist)
    if not isinstance(playlist, DecodedPlaylist):
        return checked_transform(playlist, week=week)
    if playlist.typed is not None:
        try:
            return typed_transform(playlist.typed, week)
        except _Irregular:
            pass
    return checked_transform(_parsed(playlist.data, week), week=week)


def _parsed(data: bytes, week: str) -> Any:
    """The document as ``json`` parses it, strictly: NaN and Infinity are refused."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except _NotStrictJSON as error:
        reason = f"is not strict JSON ({error})"
    except RecursionError:
        reason = "is nested too deeply to read"
    except ValueError as error:  # json.JSONDecodeError and UnicodeDecodeError included
        reason = f"is not JSON ({error})"
    raise PlaylistFormatError(f"week {week}: the document {reason}")


class _NotStrictJSON(ValueError):
    """NaN or Infinity, which ``json`` reads and strict JSON does not allow."""


def _refuse_constant(constant: str):
    raise _NotStrictJSON(f"{constant} is not JSON")


def _normalize_checked(playlist: dict, *, week: str) -> dict[str, pa.Table]:
    """:func:`normalize_playlist` of a parsed document, every field checked on the way."""
    playlist_entries_page(playlist, week=week)  # fails early, naming the playlist and the week
    where = f"playlist {playlist['id']!r}, week {week}"
    _total(playlist, week)
    snapshot_id = playlist.get("snapshot_id")
    if snapshot_id is not None and not isinstance(snapshot_id, str):
        raise PlaylistFormatError(f"{where}: {_WrongValue('snapshot_id', snapshot_id, 'a string')}")
    entries = _columns(schema.PLAYLIST_ENTRIES)
    artists = _columns(schema.ARTISTS)
    albums = _columns(schema.ALBUMS)
    songs = _columns(schema.SONGS)
    song_artists = _columns(schema.SONG_ARTISTS)
    seen_artists: set[str] = set()
    seen_albums: set[str] = set()
    seen_songs: set[str] = set()

    def add_artist(artist: dict) -> str | None:
        artist_id = artist.get("id")
        if artist_id and artist_id not in seen_artists:
            seen_artists.add(artist_id)
            artists["artist_id"].append(artist_id)
            artists["artist_name"].append(artist.get("name"))
            artists["external_url"].append(_url(artist))
            artists["uri"].append(artist.get("uri"))
        return artist_id or None

    for position, entry, item, item_type in _entries(playlist, week):
        try:
            # The playlist holds linked_from's track; Spotify plays the item in its place.
            linked_from = (item.get("linked_from") if item_type == TRACK else None) or {}
            song_id = linked_from.get("id") or (item["id"] if item_type == TRACK else None)
            entries["position"].append(position)
            entries["item_type"].append(item_type)
            entries["song_id"].append(song_id)
            entries["playable_song_id"].append(item["id"] if linked_from else None)
            entries["uri"].append(
                (linked_from.get("uri") or f"spotify:track:{song_id}")
                if linked_from
                else (item.get("uri") if item else None)
            )
            entries["name"].append(item.get("name") if item else None)
            entries["duration_ms"].append(item.get("duration_ms") if item else None)
            entries["added_at"].append(entry.get("added_at"))
            entries["added_by"].append(_added_by(entry))
            if item_type != TRACK or song_id in seen_songs:
                continue

            seen_songs.add(song_id)
            track_artist_ids = [add_artist(artist) for artist in _list(item, "artists")]
            album = item.get("album") or {}
            album_id = album.get("id") or None
            if album_id and album_id not in seen_albums:
                seen_albums.add(album_id)
                album_artist_ids = [add_artist(artist) for artist in _list(album, "artists")]
                release_date = album.get("release_date")
                albums["album_id"].append(album_id)
                albums["name"].append(album.get("name"))
                albums["release_date"].append(release_date)
                albums["release_date_precision"].append(album.get("release_date_precision"))
                albums["release_year"].append(_release_year(release_date))
                albums["album_type"].append(album.get("album_type"))
                albums["total_tracks"].append(album.get("total_tracks"))
                albums["artist_id"].append(album_artist_ids[0] if album_artist_ids else None)
                albums["url"].append(_url(album))

            songs["song_id"].append(song_id)
            songs["song_name"].append(item.get("name"))
            songs["duration_ms"].append(item.get("duration_ms"))
            songs["url"].append(_url(linked_from) if linked_from else _url(item))
            songs["popularity"].append(item.get("popularity"))
            songs["album_id"].append(album_id)
            songs["artist_id"].append(track_artist_ids[0] if track_artist_ids else None)
            songs["isrc"].append((item.get("external_ids") or {}).get("isrc"))
            songs["explicit"].append(item.get("explicit"))
            songs["disc_number"].append(item.get("disc_number"))
            songs["track_number"].append(item.get("track_number"))
            for artist_position, artist_id in enumerate(track_artist_ids):
                if artist_id:
                    song_artists["song_id"].append(song_id)
                    song_artists["artist_position"].append(artist_position)
                    song_artists["artist_id"].append(artist_id)
        except (AttributeError, KeyError, TypeError) as error:
            raise _malformed(playlist, week, position, error) from error

    entries["snapshot_id"] = [snapshot_id] * len(entries["position"])
    entries["added_at"] = _timestamps(entries["added_at"], where)
    songs["song_added"] = _earliest_added(entries, songs["song_id"])
    return {
        "artists": _table(artists, schema.ARTISTS, where),
        "albums": _table(albums, schema.ALBUMS, where),
        "songs": _table(songs, schema.SONGS, where),
        "song_artists": _table(song_artists, schema.SONG_ARTISTS, where),
        "playlist_entries": _table(entries, schema.PLAYLIST_ENTRIES, where),
        "playlists": playlist_attributes(playlist, week=week),
    }


def _timestamps(values: list, where: str) -> pa.Array:
    try:
        return _parsed_timestamps(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        position = next(
            (position for position, value in enumerate(values) if not _parses(value)), None
        )
        if position is None:
            raise PlaylistFormatError(f"{where}: an added_at is not an ISO-8601 time") from error
        raise PlaylistFormatError(
            f"{where}: entry at position {position}: 'added_at' is {_shown(values[position])}, "
            "expected an ISO-8601 time"
        ) from None


def _parses(added_at: str | None) -> bool:
    try:
        _parsed_timestamps([added_at])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return True


def _parsed_timestamps(values: list) -> pa.Array:
    # Parsed at microseconds, then truncated: "…:05.123456Z" is valid ISO-8601 too.
    parsed = pa.array(values, pa.string()).cast(pa.timestamp("us", tz="UTC"))
    return parsed.cast(schema.TIMESTAMP, safe=False)


def _earliest_added(entries: dict[str, list], song_ids: list[str]) -> pa.Array:
    """The earliest ``added_at`` of each song among the entries (a song may stand at several)."""
    added = pa.table({"song_id": entries["song_id"], "added_at": entries["added_at"]})
    earliest = added.group_by("song_id").aggregate([("added_at", "min")])
    by_song = dict(zip(earliest["song_id"].to_pylist(), earliest["added_at_min"], strict=True))
    return pa.array([by_song[song_id] for song_id in song_ids], schema.TIMESTAMP)


def _flatten_checked(playlist: dict, *, week: str) -> pa.Table:
    """:func:`flatten_playlist` of a parsed document, every field checked on the way."""
    columns = _columns(schema.PLAYLIST_CSV)
    for position, entry, item, item_type in _entries(playlist, week):
        try:
            item = item or {}
            album = item.get("album") or {}
            show = item.get("show") or {}
            artists = _list(item, "artists")
            values = {
                "position": position,
                "item_type": item_type,
                "added_at": entry.get("added_at"),
                "added_by": _added_by(entry),
                "is_local": bool(entry.get("is_local") or item.get("is_local")),
                "item_id": item.get("id"),
                "uri": item.get("uri"),
                "name": item.get("name"),
                "duration_ms": item.get("duration_ms"),
                "explicit": item.get("explicit"),
                "disc_number": item.get("disc_number"),
                "track_number": item.get("track_number"),
                "isrc": (item.get("external_ids") or {}).get("isrc"),
                "popularity": item.get("popularity"),
                "artist_ids": _join_ids(artists) if artists else None,
                "artist_names": (
                    json.dumps([a.get("name") for a in artists], ensure_ascii=False)
                    if artists
                    else None
                ),
                "album_id": album.get("id"),
                "album_name": album.get("name"),
                "album_type": album.get("album_type"),
                "album_release_date": album.get("release_date"),
                "album_release_date_precision": album.get("release_date_precision"),
                "album_artist_ids": _join_ids(_list(album, "artists")) or None,
                "show_id": show.get("id"),
                "show_name": show.get("name"),
                "url": _url(item),
            }
        except (AttributeError, KeyError, TypeError) as error:
            raise _malformed(playlist, week, position, error) from error
        for name, value in values.items():
            columns[name].append(value)
    return _table(columns, schema.PLAYLIST_CSV, f"playlist {playlist['id']!r}, week {week}")


def _join_ids(objects: list[dict]) -> str:
    return ";".join(obj.get("id") or "" for obj in objects)


# --- the typed path: the same tables from the typed view of the document's bytes --------------

# The entries are decoded and turned into Arrow a chunk at a time: only one chunk's objects are
# alive at once, whatever the playlist's size.
ENTRIES_PER_CHUNK = 500
# The songs' columns as the entries give them; song_added is computed over every entry after.
SONGS_AS_READ = pa.schema([field for field in schema.SONGS if field.name != "song_added"])


class _Irregular(Exception):
    """The typed view refuses the document or holds what only the checks refuse (an entry
    relinked to no track, a document without its id or its entries): the checked path says
    exactly what is wrong."""


def _typed_page(playlist: decode.Playlist) -> decode.Page:
    page = playlist.items if playlist.items is not None else playlist.tracks
    if not playlist.id or page is None:
        raise _Irregular
    return page


def _typed_item(entry: decode.Entry) -> tuple[decode.Item | None, str]:
    """The entry's item (under ``item``, else ``track``) and what it is."""
    item = entry.item if entry.item is not None else entry.track
    if item is None:
        return None, UNAVAILABLE
    if item.linked_from is not None and not item.linked_from.id:
        raise _Irregular
    if entry.is_local or item.is_local:
        return item, LOCAL
    if item.type == EPISODE:
        return item, EPISODE
    return item, TRACK if item.id else UNAVAILABLE


def _entry_chunks(
    page: decode.Page,
) -> Iterator[tuple[int, list[decode.Entry], list[tuple[decode.Item | None, str]]]]:
    """The first position, the entries, and their items and item types, a chunk at a time."""
    item_types: set[str] = set()
    for first in range(0, len(page.items), ENTRIES_PER_CHUNK):
        try:
            entries = decode.decode_entries(page.items[first : first + ENTRIES_PER_CHUNK])
        except (msgspec.MsgspecError, RecursionError):
            raise _Irregular from None
        items = [_typed_item(entry) for entry in entries]
        item_types.update(item_type for item, item_type in items if item is not None)
        yield first, entries, items
    if UNAVAILABLE in item_types and TRACK not in item_types:
        raise _Irregular  # tracks that all lost their ids


def _batch(columns: dict[str, Any], batch_schema: pa.Schema) -> pa.RecordBatch:
    try:
        return pa.RecordBatch.from_pydict(columns, schema=batch_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        raise _Irregular from None


def _spotify_url(obj: Any) -> str | None:
    urls = obj.external_urls
    return urls.spotify if urls is not None else None


def _typed_added_by(entry: decode.Entry) -> str | None:
    user = entry.added_by
    return (user.id or None) if user is not None else None


def _normalize_typed(playlist: decode.Playlist, week: str) -> dict[str, pa.Table]:
    page = _typed_page(playlist)
    where = f"playlist {playlist.id!r}, week {week}"
    batches: dict[str, list[pa.RecordBatch]] = {
        "artists": [],
        "albums": [],
        "songs": [],
        "song_artists": [],
        "playlist_entries": [],
    }
    artists = _columns(schema.ARTISTS)
    albums = _columns(schema.ALBUMS)
    songs = _columns(SONGS_AS_READ)
    song_artists = _columns(schema.SONG_ARTISTS)
    seen_artists: set[str] = set()
    seen_albums: set[str] = set()
    seen_songs: set[str] = set()

    def add_artist(artist: decode.Artist) -> str | None:
        artist_id = artist.id
        if artist_id and artist_id not in seen_artists:
            seen_artists.add(artist_id)
            artists["artist_id"].append(artist_id)
            artists["artist_name"].append(artist.name)
            artists["external_url"].append(_spotify_url(artist))
            artists["uri"].append(artist.uri)
        return artist_id or None

    for first, entries, items in _entry_chunks(page):
        song_ids: list[str | None] = []
        playable_song_ids: list[str | None] = []
        uris: list[str | None] = []
        for item, item_type in items:
            if item_type != TRACK:
                song_ids.append(None)
                playable_song_ids.append(None)
                uris.append(item.uri if item is not None else None)
                continue
            # The playlist holds linked_from's track; Spotify plays the item in its place.
            linked_from = item.linked_from
            song_id = linked_from.id if linked_from is not None else item.id
            song_ids.append(song_id)
            if linked_from is not None:
                playable_song_ids.append(item.id)
                uris.append(linked_from.uri or f"spotify:track:{song_id}")
            else:
                playable_song_ids.append(None)
                uris.append(item.uri)
            if song_id in seen_songs:
                continue

            seen_songs.add(song_id)
            track_artist_ids = [add_artist(artist) for artist in item.artists or ()]
            album = item.album
            album_id = (album.id or None) if album is not None else None
            if album_id and album_id not in seen_albums:
                seen_albums.add(album_id)
                album_artist_ids = [add_artist(artist) for artist in album.artists or ()]
                albums["album_id"].append(album_id)
                albums["name"].append(album.name)
                albums["release_date"].append(album.release_date)
                albums["release_date_precision"].append(album.release_date_precision)
                albums["release_year"].append(_release_year(album.release_date))
                albums["album_type"].append(album.album_type)
                albums["total_tracks"].append(album.total_tracks)
                albums["artist_id"].append(album_artist_ids[0] if album_artist_ids else None)
                albums["url"].append(_spotify_url(album))

            external_ids = item.external_ids
            songs["song_id"].append(song_id)
            songs["song_name"].append(item.name)
            songs["duration_ms"].append(item.duration_ms)
            songs["url"].append(_spotify_url(linked_from if linked_from is not None else item))
            songs["popularity"].append(item.popularity)
            songs["album_id"].append(album_id)
            songs["artist_id"].append(track_artist_ids[0] if track_artist_ids else None)
            songs["isrc"].append(external_ids.isrc if external_ids is not None else None)
            songs["explicit"].append(item.explicit)
            songs["disc_number"].append(item.disc_number)
            songs["track_number"].append(item.track_number)
            for artist_position, artist_id in enumerate(track_artist_ids):
                if artist_id:
                    song_artists["song_id"].append(song_id)
                    song_artists["artist_position"].append(artist_position)
                    song_artists["artist_id"].append(artist_id)

        try:
            added_at = _parsed_timestamps([entry.added_at for entry in entries])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise _Irregular from None
        entry_columns = {
            "position": pa.array(range(first, first + len(entries)), pa.int64()),
            "item_type": [item_type for _, item_type in items],
            "song_id": song_ids,
            "playable_song_id": playable_song_ids,
            "uri": uris,
            "name": [item.name if item is not None else None for item, _ in items],
            "duration_ms": [item.duration_ms if item is not None else None for item, _ in items],
            "added_at": added_at,
            "added_by": [_typed_added_by(entry) for entry in entries],
            "snapshot_id": [playlist.snapshot_id] * len(entries),
        }
        batches["playlist_entries"].append(_batch(entry_columns, schema.PLAYLIST_ENTRIES))
        for table, columns, table_schema in [
            ("artists", artists, schema.ARTISTS),
            ("albums", albums, schema.ALBUMS),
            ("songs", songs, SONGS_AS_READ),
            ("song_artists", song_artists, schema.SONG_ARTISTS),
        ]:
            batches[table].append(_batch(columns, table_schema))
            for values in columns.values():
                values.clear()

    entries_table = pa.Table.from_batches(batches["playlist_entries"], schema.PLAYLIST_ENTRIES)
    songs_table = pa.Table.from_batches(batches["songs"], SONGS_AS_READ)
    song_added = _earliest_added_by_song(entries_table, songs_table["song_id"])
    return {
        "artists": pa.Table.from_batches(batches["artists"], schema.ARTISTS),
        "albums": pa.Table.from_batches(batches["albums"], schema.ALBUMS),
        "songs": songs_table.add_column(
            schema.SONGS.get_field_index("song_added"), schema.SONGS.field("song_added"), song_added
        ),
        "song_artists": pa.Table.from_batches(batches["song_artists"], schema.SONG_ARTISTS),
        "playlist_entries": entries_table,
        "playlists": _typed_playlist_attributes(playlist, page, where),
    }


def _earliest_added_by_song(entries: pa.Table, song_ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """The earliest ``added_at`` of each of ``song_ids`` among the entries (a song may stand at
    several), in the order of ``song_ids``."""
    added = entries.select(["song_id", "added_at"])
    earliest = added.group_by("song_id").aggregate([("added_at", "min")])
    at_song = pc.index_in(song_ids, value_set=earliest["song_id"])
    return earliest["added_at_min"].take(at_song)


def _typed_playlist_attributes(playlist: decode.Playlist, page: decode.Page, where: str):
    owner = playlist.owner
    followers = playlist.followers
    description = playlist.description
    row = {
        "name": playlist.name,
        "description": html.unescape(description) if description else description,
        "owner_id": owner.id if owner is not None else None,
        "owner_name": owner.display_name if owner is not None else None,
        "public": playlist.public,
        "collaborative": playlist.collaborative,
        "snapshot_id": playlist.snapshot_id,
        "total": page.total,
        "followers": followers.total if followers is not None else None,
        "url": _spotify_url(playlist),
    }
    return _table({name: [value] for name, value in row.items()}, schema.PLAYLISTS, where)


_artist_names_json = json.JSONEncoder(ensure_ascii=False).encode


def _flatten_typed(playlist: decode.Playlist, week: str) -> pa.Table:
    batches = [
        _batch(_csv_columns(first, entries, items), schema.PLAYLIST_CSV)
        for first, entries, items in _entry_chunks(_typed_page(playlist))
    ]
    return pa.Table.from_batches(batches, schema.PLAYLIST_CSV)


def _csv_columns(
    first: int, entries: list[decode.Entry], typed_items: list[tuple[decode.Item | None, str]]
) -> dict[str, Any]:
    """The CSV's columns for some entries, the first at position ``first``."""
    no_item, no_album, no_show = decode.Item(), decode.Album(), decode.Show()
    items = [item or no_item for item, _ in typed_items]
    albums = [item.album or no_album for item in items]
    shows = [item.show or no_show for item in items]
    return {
        "position": pa.array(range(first, first + len(entries)), pa.int64()),
        "item_type": [item_type for _, item_type in typed_items],
        "added_at": [entry.added_at for entry in entries],
        "added_by": [_typed_added_by(entry) for entry in entries],
        "is_local": [
            bool(entry.is_local or item.is_local)
            for entry, item in zip(entries, items, strict=True)
        ],
        "item_id": [item.id for item in items],
        "uri": [item.uri for item in items],
        "name": [item.name for item in items],
        "duration_ms": [item.duration_ms for item in items],
        "explicit": [item.explicit for item in items],
        "disc_number": [item.disc_number for item in items],
        "track_number": [item.track_number for item in items],
        "isrc": [item.external_ids.isrc if item.external_ids else None for item in items],
        "popularity": [item.popularity for item in items],
        "artist_ids": [_typed_join_ids(item.artists) if item.artists else None for item in items],
        "artist_names": [
            _artist_names_json([artist.name for artist in item.artists]) if item.artists else None
            for item in items
        ],
        "album_id": [album.id for album in albums],
        "album_name": [album.name for album in albums],
        "album_type": [album.album_type for album in albums],
        "album_release_date": [album.release_date for album in albums],
        "album_release_date_precision": [album.release_date_precision for album in albums],
        "album_artist_ids": [_typed_join_ids(album.artists or ()) or None for album in albums],
        "show_id": [show.id for show in shows],
        "show_name": [show.name for show in shows],
        "url": [_spotify_url(item) for item in items],
    }


def _typed_join_ids(objects: Iterable) -> str:
    return ";".join(obj.id or "" for obj in objects)
