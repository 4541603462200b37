"""What the dashboard page shows, read from the object store where the ``analytics/dashboard``
asset writes it (a local folder or S3), so a page view never queries the lake::

    dashboard/index.json                 the playlists (name, latest summary), the views
    dashboard/<playlist>/<view>.json     one view's first 1,000 rows for one playlist
    dashboard/<playlist>/<view>.<n>.json the next 1,000 from row n, for longer views

The file layout is defined here and imported by :mod:`spotify_assets.sql.dashboard`, which
writes the files: this package cannot import that one (it needs pyarrow).

Every file the API reads is small, and read once however many requests want it at the same
time; the index, which every request reads, is then kept for a few seconds.
"""

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from spotify_assets.web.serving_reader import StoreUnavailableError

DASHBOARD_FOLDER = "dashboard"
INDEX_FILE = "index.json"
VIEW_PAGE_ROWS = 1000
S3_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
# How long one read of the index answers requests: a new run of the dashboard asset shows up
# this many seconds late at most.
INDEX_MAX_AGE = 10


def view_file(playlist_id: str, view: str, offset: int = 0) -> str:
    """The file under ``dashboard/`` with the view's rows for the playlist from row ``offset``
    (a multiple of :data:`VIEW_PAGE_ROWS`), at most that many."""
    return f"{playlist_id}/{view}.{offset}.json" if offset else f"{playlist_id}/{view}.json"


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


class SharedReads:
    """Values by key from ``read(key)``, shared: concurrent callers for one key wait for a single
    read. Its value (None included) also answers later callers for ``keep_for`` seconds, if
    any: for a few keys, since each stays until it is asked for again. A failed read is not
    kept."""

    def __init__(self, read: Callable[[str], Any], keep_for: float = 0):
        self.read = read
        self.keep_for = keep_for
        self._reads: dict[str, tuple[float, Future]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            now = time.monotonic()
            started, future = self._reads.get(key, (now, None))
            reading = future is None or (future.done() and now - started >= self.keep_for)
            if reading:
                future = Future()
                self._reads[key] = (now, future)
        if reading:
            kept = False
            try:
                future.set_result(self.read(key))
                kept = self.keep_for > 0
            except BaseException as error:
                future.set_exception(error)
            finally:
                with self._lock:
                    if not kept and self._reads.get(key, (0, None))[1] is future:
                        del self._reads[key]
        return future.result()


class DashboardFiles:
    """The dashboard's files in one object store, parsed. A read of the index serves requests
    for :data:`INDEX_MAX_AGE` seconds; a view's files are read for each request, once for all
    the requests that want one at the same time. Values are shared: never change them."""

    def __init__(self, files: ObjectStoreFiles):
        self.files = files
        self._index = SharedReads(self._read_document, keep_for=INDEX_MAX_AGE)
        self._views = SharedReads(self._read_document)

    def _read_document(self, relative_path: str) -> dict | None:
        data = self.files.read(f"{DASHBOARD_FOLDER}/{relative_path}")
        return None if data is None else json.loads(data)

    def index(self) -> dict | None:
        """``dashboard/index.json``, or None before the dashboard asset first ran."""
        return self._index.get(INDEX_FILE)

    def view_rows(self, playlist_id: str, view: str, offset: int, limit: int) -> dict | None:
        """The view's rows for the playlist from ``offset``, at most ``limit`` (up to
        :data:`VIEW_PAGE_ROWS`: two files at most), with its description, columns and
        ``total_rows``; None without its first file. The caller checks both names first: they
        become a path."""
        first = self._views.get(view_file(playlist_id, view))
        # A file written before views came in pages is as good as none until the asset reruns.
        if first is None or "total_rows" not in first:
            return None
        total = first["total_rows"]
        end = min(offset + limit, total)
        rows: list[dict] = []
        for start in range(offset - offset % VIEW_PAGE_ROWS, end, VIEW_PAGE_ROWS):
            page = self._views.get(view_file(playlist_id, view, start)) if start else first
            # Another run of the dashboard asset wrote a file between the two reads.
            if page is None or page["total_rows"] != total:
                raise StoreUnavailableError(
                    f"the {view} files of playlist {playlist_id} are being rewritten; try again"
                )
            rows += page["rows"][max(offset - start, 0) : end - start]
        return {
            **{key: first[key] for key in ("view", "playlist", "description", "columns")},
            "total_rows": total,
            "rows": rows,
        }
