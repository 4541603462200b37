"""What the dashboard page shows, read from the object store where the ``analytics/dashboard``
asset writes it (a local folder or S3), so a page view never queries the lake::

    dashboard/index.json                 the playlists, their latest summary, the views
    dashboard/<playlist>/<view>.json     one view's rows for one playlist

A playlist's name is not in those files: it comes from the raw snapshot of its latest week
(``raw/playlist_json/week=<week>/playlist=<id>/playlist.json``), read once per playlist and week
and then kept in memory.
"""

import json
import threading
from abc import ABC, abstractmethod
from pathlib import Path, PurePosixPath

from botocore.exceptions import ClientError

# The same names as spotify_assets.sql.dashboard (which imports pyarrow); a test checks them.
DASHBOARD_FOLDER = "dashboard"
INDEX_FILE = "index.json"
RAW_PLAYLIST_FILE = "raw/playlist_json/week={week}/playlist={playlist}/playlist.json"
S3_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
NAME_CACHE_SIZE = 1024


class ObjectStoreFiles(ABC):
    """Files under the object store's root, by their path relative to it (``a/b.json``)."""

    @abstractmethod
    def read(self, relative_path: str) -> bytes | None:
        """The file's bytes, or None if there is no such file."""


class LocalFiles(ObjectStoreFiles):
    """The local object store: files under ``SPOTIFY_ASSETS_DATA_DIR``."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def read(self, relative_path: str) -> bytes | None:
        path = (self.root / relative_path).resolve()
        if not path.is_relative_to(self.root):
            return None
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None


class S3Files(ObjectStoreFiles):
    """The object store in S3: ``s3://<bucket>/<prefix>/``; ``client`` is a boto3 S3 client."""

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def key(self, relative_path: str) -> str:
        return str(PurePosixPath(self.prefix, relative_path)) if self.prefix else relative_path

    def read(self, relative_path: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(relative_path))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in S3_NOT_FOUND:
                return None
            raise
        return response["Body"].read()


class DashboardFiles:
    """The dashboard's files in one object store, and the playlists' names."""

    def __init__(self, files: ObjectStoreFiles):
        self.files = files
        self._names: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()

    def index(self) -> dict | None:
        """``dashboard/index.json``, or None before the dashboard asset first ran."""
        data = self.files.read(f"{DASHBOARD_FOLDER}/{INDEX_FILE}")
        return None if data is None else json.loads(data)

    def view(self, playlist_id: str, view: str) -> bytes | None:
        """One view's file for one playlist, as stored (JSON), or None. The caller checks both
        names first: they become a path."""
        return self.files.read(f"{DASHBOARD_FOLDER}/{playlist_id}/{view}.json")

    def playlist_name(self, playlist_id: str, week: str) -> str | None:
        """The playlist's name in its snapshot of ``week``, or None without one."""
        cache_key = (playlist_id, week)
        with self._lock:
            if cache_key in self._names:
                return self._names[cache_key]
        data = self.files.read(RAW_PLAYLIST_FILE.format(week=week, playlist=playlist_id))
        name = None
        if data is not None:
            snapshot = json.loads(data)
            name = snapshot.get("name") if isinstance(snapshot, dict) else None
            name = name if isinstance(name, str) else None
        with self._lock:
            if len(self._names) >= NAME_CACHE_SIZE:
                self._names.clear()
            self._names[cache_key] = name
        return name
