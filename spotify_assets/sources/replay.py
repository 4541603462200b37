"""The replay source: recorded playlists, one JSON file per playlist per week.

``<replay_dir>/<playlist_id>/<YYYY-MM-DD>.json``, each file a playlist object as
``GET /playlists/{id}`` returns it with every entry in its paging object. The default folder is
the synthetic sample dataset shipped in the package.

Only what fits that layout is a recording, so one stray name never takes the others down:

- a folder is a playlist when its name is a Spotify playlist id (22 letters and digits);
- a file is a week when it is named ``YYYY-MM-DD.json`` after a real date that is a Monday (the
  weeks start on Monday) and not before :data:`FIRST_RECORDABLE_WEEK` (so a stray ancient date
  cannot add thousands of weekly partitions).

Anything else (a note, a ``.git`` folder, a Tuesday, ``1900-01-01.json``) is skipped: see
:func:`skipped_replay_entries`, which says why for each.
"""

import datetime as dt
import json
import re
from pathlib import Path

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError
from spotify_assets.sources.spotify_settings import parse_playlist_id
from spotify_assets.transforms import PlaylistFormatError, playlist_entries_page

SAMPLE_DATA_DIR = Path(__file__).parent / "sample_data"
# The Monday of the week Spotify launched (7 October 2008): no playlist was recorded before.
FIRST_RECORDABLE_WEEK = dt.date(2008, 10, 6)
_RECORDING_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})\.json")


def is_playlist_id(name: str) -> bool:
    """Whether ``name`` is a playlist id itself (not a URI or URL holding one)."""
    try:
        return parse_playlist_id(name) == name
    except ValueError:
        return False


def _not_a_week(file_name: str) -> str | None:
    """Why a file in a playlist's folder is not one week's recording; None when it is one."""
    match = _RECORDING_NAME.fullmatch(file_name)
    if match is None:
        return "not named <YYYY-MM-DD>.json"
    try:
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        return f"{match.group(1)} is not a date"
    if day.weekday() != 0:
        return f"{day} is a {day:%A}, and weeks start on Monday"
    if day < FIRST_RECORDABLE_WEEK:
        return f"{day} is before {FIRST_RECORDABLE_WEEK}, the week Spotify launched"
    return None


def replay_playlist_ids(replay_dir: str | Path) -> list[str]:
    """The playlists recorded in a replay folder: its subfolders named by a playlist id, sorted."""
    root = Path(replay_dir)
    if not root.is_dir():
        return []
    return sorted(
        child.name for child in root.iterdir() if child.is_dir() and is_playlist_id(child.name)
    )


def recorded_weeks(replay_dir: str | Path, playlist_id: str) -> list[str]:
    """The weeks recorded for one playlist, oldest first: its files named after a Monday."""
    folder = Path(replay_dir) / playlist_id
    if not folder.is_dir():
        return []
    return sorted(
        path.stem for path in folder.iterdir() if path.is_file() and not _not_a_week(path.name)
    )


def skipped_replay_entries(replay_dir: str | Path) -> list[str]:
    """One line for everything in a replay folder that is neither a playlist's folder nor a
    week's recording in one, saying why it is skipped; sorted by path."""
    root = Path(replay_dir)
    if not root.is_dir():
        return []
    skipped = []
    for child in sorted(root.iterdir()):
        if not child.is_dir():
            skipped.append(f"{child}: not a playlist folder")
        elif not is_playlist_id(child.name):
            skipped.append(f"{child}: the folder name is not a Spotify playlist id")
        else:
            for path in sorted(child.iterdir()):
                reason = "a folder" if path.is_dir() else _not_a_week(path.name)
                if reason:
                    skipped.append(f"{path}: {reason}")
    return [f"skipped in the replay folder: {line}" for line in skipped]


def recorded_playlist_name(replay_dir: str | Path, playlist_id: str) -> str | None:
    """The playlist's name in its latest recording; None without a readable one."""
    weeks = recorded_weeks(replay_dir, playlist_id)
    if not weeks:
        return None
    try:
        playlist = json.loads((Path(replay_dir) / playlist_id / f"{weeks[-1]}.json").read_bytes())
    except (OSError, ValueError):  # a broken recording fails its partition, not a listing
        return None
    name = playlist.get("name") if isinstance(playlist, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def read_replay_file(replay_dir: str | Path, playlist_id: str, week: str) -> Extraction:
    """The recorded snapshot of one playlist for one week, checked to be that playlist."""
    path = Path(replay_dir) / playlist_id / f"{week}.json"
    where = f"playlist {playlist_id!r}, week {week}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        recorded = ", ".join(recorded_weeks(replay_dir, playlist_id)) or "none"
        raise SourceError(f"{where}: no recording at {path} (recorded weeks: {recorded})") from None
    try:
        playlist = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SourceError(f"{where}: {path} is not valid JSON ({error})") from None
    try:
        playlist_entries_page(playlist, week=week)
    except PlaylistFormatError as error:
        raise SourceError(f"{where}: {path} is not a playlist object: {error}") from None
    if playlist["id"] != playlist_id:
        raise SourceError(f"{where}: {path} holds playlist {playlist['id']!r} instead")
    return Extraction(playlist=playlist, source=str(path))


class ReplaySource(PlaylistSource):
    """Reads recorded playlists from a folder (``SPOTIFY_REPLAY_DIR``, default the sample data)."""

    replay_dir: str = str(SAMPLE_DATA_DIR)

    def playlist_ids(self) -> list[str]:
        return replay_playlist_ids(self.replay_dir)

    def extract(self, playlist_id: str, week: str) -> Extraction:
        return read_replay_file(self.replay_dir, playlist_id, week)
