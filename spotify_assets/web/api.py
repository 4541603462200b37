"""What each route of the read API answers, and its errors, with no web framework: a
:class:`ReadApi` over a serving-store reader and the dashboard files. :mod:`.app` maps URLs to
these methods and :class:`ApiError` to JSON errors.

Every request reads by key or by index: a playlist's entries are one range query, their songs
one batch read, and the songs' albums and artists one more, whatever the playlist's length.
The same holds for the dashboard files: the dashboard's index lists the playlists, and a view
comes a page at a time. A playlist's name, owner, total and link come from the serving table
``playlists`` (one batch read for the whole list), never from a raw snapshot, which can be
hundreds of megabytes.
"""

import re
from collections.abc import Iterable, Mapping

from spotify_assets.web.dashboard_files import VIEW_PAGE_ROWS, DashboardFiles
from spotify_assets.web.serving_reader import ServingReader
from spotify_assets.web.tables import ALBUMS, ARTISTS, PLAYLISTS, SONGS

# Spotify ids are base62 (22 characters today); anything else is refused before it reaches a
# store or becomes part of a path.
_SPOTIFY_ID = re.compile(r"[A-Za-z0-9]{1,64}")
_VIEW_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
DEFAULT_LIMIT = 100
MAX_ENTRIES = 500
MAX_INDEX_ROWS = 1000
MAX_OFFSET = 10_000_000
# What a listing shows of each playlist's served row (the playlist route gives all of it).
LISTED_ATTRIBUTES = ("owner_id", "owner_name", "total", "snapshot_id", "url")
NO_DASHBOARD_YET = (
    "no dashboard files yet: materialize some weeks, then the analytics/dashboard asset "
    "(it runs by itself after the lake changes while `dg dev` runs)"
)


class ApiError(Exception):
    """An answer other than 200: its HTTP status and a message for the caller."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def spotify_id(value: str, what: str) -> str:
    """``value`` if it can be a Spotify id, else a 400 naming ``what`` it should have been."""
    if not _SPOTIFY_ID.fullmatch(value):
        raise bad_request(f"{what} must be a Spotify id (letters and digits), not {value!r}")
    return value


def check_parameters(parameters: Mapping[str, str], allowed: Iterable[str]) -> None:
    """A 400 for any query parameter the route does not take: a typo is not silently ignored."""
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        names = ", ".join(unknown)
        raise bad_request(f"unknown query parameter {names} (this route takes: {takes})")


def integer(
    parameters: Mapping[str, str], name: str, default: int, minimum: int, maximum: int
) -> int:
    """A whole-number query parameter within bounds, or a 400 that says what is allowed."""
    text = parameters.get(name)
    if text is None:
        return default
    # ASCII digits only: int() would also take "١٢" or "１２" (and \d matches them).
    if not re.fullmatch(r"[0-9]{1,9}", text) or not minimum <= int(text) <= maximum:
        raise bad_request(
            f"{name} must be a whole number from {minimum} to {maximum}, not {text!r}"
        )
    return int(text)


def named_entry(entry: dict, songs: Mapping, albums: Mapping, artists: Mapping) -> dict:
    """A playlist entry with its song's name, album and lead artist (null where it has none:
    episodes, local files, removed tracks)."""
    song = songs.get(entry["song_id"]) if entry["song_id"] else None
    album = albums.get(song["album_id"]) if song and song["album_id"] else None
    artist = artists.get(song["artist_id"]) if song and song["artist_id"] else None
    return {
        **entry,
        "song_name": song and song["song_name"],
        "explicit": song and song["explicit"],
        "album_id": song and song["album_id"],
        "album_name": album and album["name"],
        "artist_id": song and song["artist_id"],
        "artist_name": artist and artist["artist_name"],
    }


class ReadApi:
    """The read API's answers, as JSON-ready values."""

    def __init__(self, serving: ServingReader, dashboard: DashboardFiles):
        self.serving = serving
        self.dashboard = dashboard

    # --- playlists and the dashboard ----------------------------------------------------------

    def _index(self) -> dict:
        index = self.dashboard.index()
        if index is None:
            raise not_found(NO_DASHBOARD_YET)
        return index

    def _served_playlists(self, playlist_ids: Iterable[str]) -> dict[str, dict]:
        """The serving table ``playlists``'s rows of these playlists (those it holds)."""
        return self.serving.get_many({PLAYLISTS: playlist_ids})[PLAYLISTS]

    @staticmethod
    def _summary(item: dict, served: dict | None) -> dict:
        """A playlist of the dashboard's index, named and described by its served row; the
        index's own name only while the serving store has no row for it."""
        return {
            "playlist": item["playlist"],
            "name": served["name"] if served else item.get("name"),
            **{name: served and served[name] for name in LISTED_ATTRIBUTES},
            "latest": item["latest"],
        }

    def playlists(self, parameters: Mapping[str, str]) -> dict:
        """Every playlist the dashboard has, with its name, owner, total, snapshot id and link
        as of its newest week served, and its latest weekly summary."""
        check_parameters(parameters, ())
        index = self.dashboard.index()
        if index is None:
            return {"playlists": [], "views": {}, "note": NO_DASHBOARD_YET}
        served = self._served_playlists(item["playlist"] for item in index["playlists"])
        return {
            "playlists": [
                self._summary(item, served.get(item["playlist"])) for item in index["playlists"]
            ],
            "views": index["views"],
        }

    def playlist(self, playlist_id: str, parameters: Mapping[str, str]) -> dict:
        """One playlist: its name, latest summary, dashboard views, served snapshot (its week and
        snapshot id) and ``attributes``, the serving table ``playlists``'s row (name,
        description, owner, total, followers, link... as of its newest week served)."""
        check_parameters(parameters, ())
        playlist_id = spotify_id(playlist_id, "the playlist id")
        index = self.dashboard.index() or {"playlists": [], "views": {}}
        listed = [item for item in index["playlists"] if item["playlist"] == playlist_id]
        version = self.serving.playlist_version(playlist_id)
        row = self._served_playlists([playlist_id]).get(playlist_id)
        if not listed and version is None and row is None:
            raise not_found(f"no playlist {playlist_id} in the dashboard or the serving store")
        summary = self._summary(listed[0], row) if listed else {"name": row and row["name"]}
        return {
            "playlist": playlist_id,
            "name": summary["name"],
            "latest": summary.get("latest"),
            "views": sorted(index["views"]) if listed else [],
            "served": version and {"week": version.week, "snapshot_id": version.snapshot_id},
            "attributes": row and {k: v for k, v in row.items() if k != "playlist_id"},
        }

    def view(self, playlist_id: str, view: str, parameters: Mapping[str, str]) -> dict:
        """One dashboard view's rows for one playlist from ``offset`` (a row, from 0), at most
        ``limit``, with the view's description, columns and ``total_rows``."""
        check_parameters(parameters, ("offset", "limit"))
        playlist_id = spotify_id(playlist_id, "the playlist id")
        offset = integer(parameters, "offset", 0, 0, MAX_OFFSET)
        limit = integer(parameters, "limit", VIEW_PAGE_ROWS, 1, VIEW_PAGE_ROWS)
        if not _VIEW_NAME.fullmatch(view):
            raise bad_request(f"{view!r} is not a view name (lowercase letters, digits and _)")
        index = self._index()
        if view not in index["views"]:
            raise not_found(f"no view {view!r}; the views: {', '.join(sorted(index['views']))}")
        if not any(item["playlist"] == playlist_id for item in index["playlists"]):
            raise not_found(f"no playlist {playlist_id} in the dashboard")
        page = self.dashboard.view_rows(playlist_id, view, offset, limit)
        if page is None:
            raise not_found(
                f"no {view} file for playlist {playlist_id} yet: materialize analytics/dashboard"
            )
        end = offset + len(page["rows"])
        return {
            **page,
            "offset": offset,
            "limit": limit,
            "next_offset": end if end < page["total_rows"] else None,
        }

    # --- the serving tables --------------------------------------------------------------------

    def playlist_entries(self, playlist_id: str, parameters: Mapping[str, str]) -> dict:
        """The served snapshot's entries from ``offset`` (a position, from 0), at most ``limit``,
        each with its song's name, album and lead artist, and the playlist's served name."""
        check_parameters(parameters, ("offset", "limit"))
        playlist_id = spotify_id(playlist_id, "the playlist id")
        offset = integer(parameters, "offset", 0, 0, MAX_OFFSET)
        limit = integer(parameters, "limit", DEFAULT_LIMIT, 1, MAX_ENTRIES)
        # One position past the page tells whether there is another page.
        snapshot = self.serving.snapshot_entries(playlist_id, offset, offset + limit)
        if snapshot is None:
            raise not_found(f"no playlist {playlist_id} in the serving store")
        version, rows = snapshot
        page = rows[:limit]
        songs = self.serving.get_many({SONGS: [r["song_id"] for r in page if r["song_id"]]})[SONGS]
        # The playlist's row rides along with the albums and artists: no extra round trip.
        related = self.serving.get_many(
            {
                ALBUMS: [s["album_id"] for s in songs.values() if s["album_id"]],
                ARTISTS: [s["artist_id"] for s in songs.values() if s["artist_id"]],
                PLAYLISTS: [playlist_id],
            }
        )
        row = related[PLAYLISTS].get(playlist_id)
        return {
            "playlist": playlist_id,
            "name": row and row["name"],
            "week": version.week,
            "snapshot_id": version.snapshot_id,
            "offset": offset,
            "limit": limit,
            "entries": [named_entry(row, songs, related[ALBUMS], related[ARTISTS]) for row in page],
            "next_offset": offset + limit if len(rows) > limit else None,
        }

    def _entity(self, table: str, key: str, what: str) -> dict:
        row = self.serving.get(table, spotify_id(key, f"the {what} id"))
        if row is None:
            raise not_found(f"no {what} {key} in the serving store")
        return row

    def song(self, song_id: str, parameters: Mapping[str, str]) -> dict:
        """A song with its album and lead artist."""
        check_parameters(parameters, ())
        song = self._entity(SONGS, song_id, "song")
        related = self.serving.get_many(
            {ALBUMS: filter(None, [song["album_id"]]), ARTISTS: filter(None, [song["artist_id"]])}
        )
        return {
            "song": song,
            "album": related[ALBUMS].get(song["album_id"]),
            "artist": related[ARTISTS].get(song["artist_id"]),
        }

    def album(self, album_id: str, parameters: Mapping[str, str]) -> dict:
        """An album with its (first) artist."""
        check_parameters(parameters, ())
        album = self._entity(ALBUMS, album_id, "album")
        artist = self.serving.get(ARTISTS, album["artist_id"]) if album["artist_id"] else None
        return {"album": album, "artist": artist}

    def artist(self, artist_id: str, parameters: Mapping[str, str]) -> dict:
        """An artist."""
        check_parameters(parameters, ())
        return {"artist": self._entity(ARTISTS, artist_id, "artist")}

    def _by_index(
        self, table: str, column: str, owner_table: str, owner_id: str, what: str, parameters
    ) -> dict:
        check_parameters(parameters, ("limit", "after"))
        limit = integer(parameters, "limit", DEFAULT_LIMIT, 1, MAX_INDEX_ROWS)
        after = parameters.get("after")
        if after is not None:
            after = spotify_id(after, "after")
        owner = self._entity(owner_table, owner_id, what)
        page = self.serving.by_index(table, column, owner[column], limit, after)
        return {column: owner[column], table: page.rows, "after": page.after}

    def album_songs(self, album_id: str, parameters: Mapping[str, str]) -> dict:
        """The album's songs in the serving store (index ``by_album``), a page at a time:
        ``after`` is the page's last ``song_id``, given back as ``after`` for the next."""
        return self._by_index(SONGS, "album_id", ALBUMS, album_id, "album", parameters)

    def artist_songs(self, artist_id: str, parameters: Mapping[str, str]) -> dict:
        """The songs the artist leads (index ``by_artist``), a page at a time."""
        return self._by_index(SONGS, "artist_id", ARTISTS, artist_id, "artist", parameters)

    def artist_albums(self, artist_id: str, parameters: Mapping[str, str]) -> dict:
        """The albums whose first artist is the artist (index ``by_artist``), a page at a time."""
        return self._by_index(ALBUMS, "artist_id", ARTISTS, artist_id, "artist", parameters)
