"""Playlist JSON in, tables out. No Dagster and no AWS here: plain functions, tested on their own.

A playlist document is what ``GET /playlists/{id}`` returns, with every page of entries merged
into its paging object: ``items`` (2026) or ``tracks`` (older apps), each entry holding its item
under ``item`` (2026) or ``track`` (older), sometimes both.
"""

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from spotify_assets.transforms import schema

TRACK = "track"
EPISODE = "episode"
LOCAL = "local"
UNAVAILABLE = "unavailable"


class PlaylistFormatError(ValueError):
    """A playlist document that is not what Spotify returns; says which playlist, week and what."""


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


def _entries(playlist: Any, week: str) -> Iterator[tuple[int, dict, dict | None, str]]:
    """(position, entry, item, item_type) for every entry, in playlist order."""
    for position, entry in enumerate(playlist_entries_page(playlist, week=week)["items"]):
        if not isinstance(entry, dict):
            raise PlaylistFormatError(
                f"playlist {playlist['id']!r}, week {week}: entry at position {position} "
                f"is {type(entry).__name__}, not an object"
            )
        item = entry.get("item")
        if item is None:
            item = entry.get("track")
        if item is None:
            item_type = UNAVAILABLE
        elif not isinstance(item, dict):
            raise PlaylistFormatError(
                f"playlist {playlist['id']!r}, week {week}: entry at position {position} "
                f"has an item of type {type(item).__name__}, not an object"
            )
        elif entry.get("is_local") or item.get("is_local"):
            item_type = LOCAL
        elif item.get("type") == EPISODE:
            item_type = EPISODE
        elif item.get("id"):
            item_type = TRACK
        else:
            item_type = UNAVAILABLE
        yield position, entry, item, item_type


def _malformed(playlist: dict, week: str, position: int, error: Exception) -> PlaylistFormatError:
    return PlaylistFormatError(
        f"playlist {playlist['id']!r}, week {week}: entry at position {position} is malformed "
        f"({type(error).__name__}: {error})"
    )


def _added_by(entry: dict) -> str | None:
    user = entry.get("added_by")
    return (user.get("id") or None) if user else None


def _list(obj: dict, key: str) -> list:
    """``obj[key]`` as a list; absent or null is empty, anything else is malformed."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TypeError(f"'{key}' is {type(value).__name__}, not a list")
    return value


def _spotify_url(obj: dict) -> str | None:
    return (obj.get("external_urls") or {}).get("spotify")


def _release_year(release_date: str | None) -> int | None:
    """The year of a Spotify release date ("1981", "1981-12", "1981-12-15"); "0000" is unknown."""
    if not release_date or not release_date[:4].isdigit():
        return None
    year = int(release_date[:4])
    return year or None


def _table(columns: dict[str, list], table_schema: pa.Schema, where: str) -> pa.Table:
    try:
        return pa.Table.from_pydict(columns, schema=table_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise PlaylistFormatError(f"{where}: a value has the wrong type ({error})") from error


def _columns(table_schema: pa.Schema) -> dict[str, list]:
    return {name: [] for name in table_schema.names}


def normalize_playlist(playlist: dict, *, week: str) -> dict[str, pa.Table]:
    """Split one playlist snapshot into the design's tables.

    Returns ``artists``, ``albums``, ``songs``, ``song_artists`` and ``playlist_entries`` as
    pyarrow tables with the schemas of :mod:`spotify_assets.transforms.schema`. Songs, albums and
    artists come only from Spotify tracks; local files, episodes and removed items appear only
    in ``playlist_entries``, so positions still match the playlist. Within the snapshot the
    first occurrence of an entity wins, except ``song_added``, the earliest ``added_at``.
    """
    playlist_entries_page(playlist, week=week)  # fails early, naming the playlist and the week
    where = f"playlist {playlist['id']!r}, week {week}"
    snapshot_id = playlist.get("snapshot_id")
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
            artists["external_url"].append(_spotify_url(artist))
            artists["uri"].append(artist.get("uri"))
        return artist_id or None

    for position, entry, item, item_type in _entries(playlist, week):
        try:
            added_at = entry.get("added_at")
            entries["position"].append(position)
            entries["item_type"].append(item_type)
            entries["song_id"].append(item["id"] if item_type == TRACK else None)
            entries["uri"].append(item.get("uri") if item else None)
            entries["name"].append(item.get("name") if item else None)
            entries["duration_ms"].append(item.get("duration_ms") if item else None)
            entries["added_at"].append(added_at)
            entries["added_by"].append(_added_by(entry))
            if item_type != TRACK:
                continue

            song_id = item["id"]
            if song_id in seen_songs:
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
                albums["url"].append(_spotify_url(album))

            songs["song_id"].append(song_id)
            songs["song_name"].append(item.get("name"))
            songs["duration_ms"].append(item.get("duration_ms"))
            songs["url"].append(_spotify_url(item))
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
    }


def _timestamps(values: list, where: str) -> pa.Array:
    try:
        # Parsed at microseconds, then truncated: "…:05.123456Z" is valid ISO-8601 too.
        parsed = pa.array(values, pa.string()).cast(pa.timestamp("us", tz="UTC"))
        return parsed.cast(schema.TIMESTAMP, safe=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise PlaylistFormatError(
            f"{where}: an added_at is not an ISO-8601 time ({error})"
        ) from error


def _earliest_added(entries: dict[str, list], song_ids: list[str]) -> pa.Array:
    """The earliest ``added_at`` of each song among the entries (a song may stand at several)."""
    added = pa.table({"song_id": entries["song_id"], "added_at": entries["added_at"]})
    earliest = added.group_by("song_id").aggregate([("added_at", "min")])
    by_song = dict(zip(earliest["song_id"].to_pylist(), earliest["added_at_min"], strict=True))
    return pa.array([by_song[song_id] for song_id in song_ids], schema.TIMESTAMP)


def flatten_playlist(playlist: dict, *, week: str) -> pa.Table:
    """One row per playlist entry, every field a scalar, for ``raw/playlist_csv``."""
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
                "url": _spotify_url(item),
            }
        except (AttributeError, KeyError, TypeError) as error:
            raise _malformed(playlist, week, position, error) from error
        for name, value in values.items():
            columns[name].append(value)
    return _table(columns, schema.PLAYLIST_CSV, f"playlist {playlist['id']!r}, week {week}")


def _join_ids(objects: list[dict]) -> str:
    return ";".join(obj.get("id") or "" for obj in objects)
