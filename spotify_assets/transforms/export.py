"""A playlist's snapshot as a file a person or another tool reads: CSV, JSON or M3U.

Pure functions: rows of the lake in, text out. Every entry keeps its position, so an export
compares with another week's line by line; what cannot be played (an item Spotify no longer
returns) stays in CSV and JSON with empty fields, and is a comment line in M3U.
"""

import csv
import io
import json
import unicodedata
import urllib.parse
from dataclasses import asdict, dataclass

CSV = "csv"
JSON = "json"
M3U = "m3u"
FORMATS = (CSV, JSON, M3U)
LOCAL_URI_PREFIX = "spotify:local:"
# How CSV and M3U join several artists into one field; JSON keeps the list.
ARTIST_SEPARATOR = ", "


@dataclass(frozen=True)
class ExportedEntry:
    position: int
    name: str | None
    artists: list[str]
    uri: str | None
    duration_ms: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """One playlist's week: what the ``playlists`` table says of it (None for a lake written
    before that table) and its entries in order."""

    playlist: str
    week: str
    name: str | None
    snapshot_id: str | None
    entries: list[ExportedEntry]


def local_file_artists(uri: str | None) -> list[str]:
    """The artist a local file's URI names (``spotify:local:<artist>:<album>:<title>:<seconds>``,
    each part URL-encoded); none when it names none."""
    if not uri or not uri.startswith(LOCAL_URI_PREFIX):
        return []
    parts = uri.removeprefix(LOCAL_URI_PREFIX).split(":")
    artist = urllib.parse.unquote_plus(parts[0]) if parts else ""
    return [artist] if artist else []


def snapshot_entries(rows: list[dict]) -> list[ExportedEntry]:
    """Entries from the lake's rows, one per entry and credited artist (``position``,
    ``item_type``, ``name``, ``uri``, ``duration_ms``, ``artist_position``, ``artist_name``),
    ordered by position then by artist."""
    by_position: dict[int, dict] = {}
    for row in sorted(rows, key=lambda r: (r["position"], r["artist_position"] or 0)):
        entry = by_position.setdefault(row["position"], {**row, "artists": []})
        if row["artist_name"] is not None:
            entry["artists"].append(row["artist_name"])
    return [
        ExportedEntry(
            position=entry["position"],
            name=entry["name"],
            # Local files credit no Spotify artist; their URI names one.
            artists=entry["artists"] or local_file_artists(entry["uri"]),
            uri=entry["uri"],
            duration_ms=entry["duration_ms"],
        )
        for entry in by_position.values()
    ]


def as_csv(snapshot: Snapshot) -> str:
    """RFC 4180 (CRLF line ends, a header): ``position,name,artists,uri``; several artists are
    joined with ", ", and what Spotify no longer returns has empty fields."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["position", "name", "artists", "uri"])
    for entry in snapshot.entries:
        writer.writerow(
            [entry.position, entry.name, ARTIST_SEPARATOR.join(entry.artists), entry.uri]
        )
    return buffer.getvalue()


def as_json(snapshot: Snapshot) -> str:
    """The playlist, the week, its name and snapshot id, and the entries (``position``,
    ``name``, ``artists`` as a list, ``uri``), indented, in UTF-8."""
    document = {
        "playlist": snapshot.playlist,
        "week": snapshot.week,
        "name": snapshot.name,
        "snapshot_id": snapshot.snapshot_id,
        "entries": [
            {key: value for key, value in asdict(entry).items() if key != "duration_ms"}
            for entry in snapshot.entries
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _one_line(text: str | None) -> str:
    # M3U is line-based: a name holding a newline or a control character would break it.
    joined = " ".join((text or "").split())
    return "".join(char for char in joined if unicodedata.category(char) != "Cc")


def as_m3u(snapshot: Snapshot) -> str:
    """Extended M3U: ``#EXTM3U``, ``#PLAYLIST:<name>``, then per entry ``#EXTINF:<seconds>,
    <artists> - <name>`` and its Spotify URI, which Spotify's apps and most players that
    know Spotify open. An entry with no URI is a comment line."""
    lines = ["#EXTM3U"]
    if snapshot.name:
        lines.append(f"#PLAYLIST:{_one_line(snapshot.name)}")
    for entry in snapshot.entries:
        if not entry.uri:
            lines.append(f"# {entry.position}: no longer on Spotify")
            continue
        seconds = round(entry.duration_ms / 1000) if entry.duration_ms is not None else -1
        artists = _one_line(ARTIST_SEPARATOR.join(entry.artists))
        title = " - ".join(part for part in (artists, _one_line(entry.name)) if part)
        lines += [f"#EXTINF:{seconds},{title}", entry.uri]
    return "\n".join(lines) + "\n"


WRITERS = {CSV: as_csv, JSON: as_json, M3U: as_m3u}


def export_text(snapshot: Snapshot, export_format: str) -> str:
    """The snapshot in ``export_format`` (csv, json or m3u)."""
    return WRITERS[export_format](snapshot)
