"""What every playlist source gives the raw asset."""

from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg


class SourceError(Exception):
    """A playlist could not be read; the message names the playlist, the week and why.
    ``transient``: whether reading it again a few minutes later can succeed (an outage, a short
    rate limit, a playlist being edited); anything else fails the same way again."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass
class Extraction:
    """One playlist snapshot as the source returned it, and what it cost to get it."""

    playlist: dict
    source: str  # where it came from: a replay file's path, or the live API
    request_count: int = 0
    metadata: dict = field(default_factory=dict)  # extra, source-specific, shown in the UI


@dataclass(frozen=True)
class StoredSnapshot:
    """The latest raw snapshot stored for a playlist: its version, and its document on demand."""

    week: str
    snapshot_id: str
    load: Callable[[], dict]  # reads the stored playlist document; called only when needed


class PlaylistSource(dg.ConfigurableResource):
    """Where raw playlists come from: recorded files (replay) or the Spotify API (live)."""

    def playlist_ids(self) -> list[str]:
        """The configured playlists, one partition each."""
        raise NotImplementedError

    def extract(self, playlist_id: str, week: str) -> Extraction:
        """The playlist as it stood at the end of ``week``; raises SourceError when it cannot."""
        raise NotImplementedError

    def extract_reusing(
        self, playlist_id: str, week: str, latest_stored: StoredSnapshot | None
    ) -> Extraction:
        """Like ``extract``; a source that can tell the playlist has not changed since
        ``latest_stored`` may return that snapshot's entries instead of reading them again."""
        return self.extract(playlist_id, week)
