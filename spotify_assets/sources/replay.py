"""The replay source: recorded playlists, one JSON file per playlist per week.

``<replay_dir>/<playlist_id>/<YYYY-MM-DD>.json``, each file a playlist object as
``GET /playlists/{id}`` returns it with every entry in its paging object. The default folder is
the synthetic sample dataset shipped in the package.
"""

import json
from pathlib import Path

from spotify_assets.sources.base import Extraction, PlaylistSource, SourceError
from spotify_assets.transforms import PlaylistFormatError, playlist_entries_page

SAMPLE_DATA_DIR = Path(__file__).parent / "sample_data"


def replay_playlist_ids(replay_dir: str | Path) -> list[str]:
    """The playlists recorded in a replay folder: its subfolders, sorted."""
    root = Path(replay_dir)
    if not root.is_dir():
        return []
    return sorted(child.name for child in root.iterdir() if child.is_dir())


def recorded_weeks(replay_dir: str | Path, playlist_id: str) -> list[str]:
    """The weeks recorded for one playlist, oldest first."""
    return sorted(path.stem for path in (Path(replay_dir) / playlist_id).glob("*.json"))


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
