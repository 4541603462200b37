"""The object store: raw JSON and CSV, and normalized Parquet, in Hive-style partition folders.

``<root>/<group>/<asset>/week=YYYY-MM-DD/playlist=<id>/<asset>.<ext>``: the partition columns live
in the path, never inside the files, so Athena, Glue and DuckDB read the folders as they are.
The root is a local folder here; the S3 flavour is this class with an ``s3://`` root.

A document refused before it was stored is kept beside the lake, never over a stored one:
``<root>/rejected/<asset>/week=YYYY-MM-DD/playlist=<id>/<UTC time>.json``, one JSON envelope
``{"playlist", "week", "rejected_at", "reason", "source", "document"}`` per refusal. ``document``
is the refused document's JSON text as a string (with NaN or Infinity as received, lone
surrogates as ``\\u`` escapes), or null when it could not be read at all (nested too deeply);
``json.loads(envelope["document"])`` gives back what the source returned. The envelope itself is
strict, ASCII-only JSON.

An asset with ``keeps_latest_pointer`` in its definition metadata (``raw/playlist_json``) also
keeps, per playlist, a pointer to its newest stored week:
``<root>/latest/<asset>/playlist=<id>.json``, ``{"version", "week", "snapshot_id", "sha256"}``
(see :mod:`spotify_assets.transforms.latest_snapshot`). It is written after the partition's file,
only moves to a week at least as new, and one writer at a time replaces it, so change detection
reads one small file whatever the history.
"""

import contextlib
import datetime as dt
import errno
import fcntl
import glob
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from upath import UPath

from spotify_assets import constants
from spotify_assets.grouped_runs import (
    add_partition_metadata,
    io_partition_keys,
    output_partitions,
    partition_label,
    week_and_playlist_of,
)
from spotify_assets.transforms import schema
from spotify_assets.transforms.latest_snapshot import (
    LatestSnapshot,
    SnapshotReplaced,
    decode_pointer,
    encode_pointer,
    latest_snapshot_of,
    supersedes,
)

JSON = "json"
CSV = "csv"
PARQUET = "parquet"
STORAGE_FORMAT = "storage_format"  # definition metadata key naming one of the formats above
CONTENT_TYPES = {
    JSON: "application/json",
    CSV: "text/csv; charset=utf-8; header=present",
    PARQUET: "application/vnd.apache.parquet",
}
TEMPORARY_SUFFIX = ".tmp"
REJECTED = "rejected"  # the top-level folder of refused documents
LATEST = "latest"  # the top-level folder of the pointers to each playlist's newest stored week
# Definition metadata: the object store keeps the asset's latest pointer per playlist.
KEEPS_LATEST_POINTER = "keeps_latest_pointer"
# A temporary file this old is no write in progress (a write takes milliseconds) but what a killed
# run left; a younger one may be another run's write of the same partition, and stays.
ORPHANED_AFTER_SECONDS = 10 * 60


class NotStrictJSON(ValueError):
    """A value that strict JSON in UTF-8 cannot hold; the message says where it is."""


def strict_json(obj: Any) -> bytes:
    """``obj`` as strict JSON in UTF-8: no NaN or Infinity (which ``json`` would write bare) and no
    lone surrogate (which UTF-8 cannot encode); raises :class:`NotStrictJSON` naming the value."""
    try:
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")
    except RecursionError:
        raise NotStrictJSON("the document is nested too deeply to store as JSON") from None
    except ValueError:  # UnicodeEncodeError included
        raise NotStrictJSON(_first_value_not_strict(obj)) from None


def _first_value_not_strict(obj: Any) -> str:
    """Where the first value that strict JSON cannot hold sits in ``obj``, and what it is."""
    # Iterative: a document may be nested deeper than Python's recursion limit.
    pending = [("the document", obj)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            return f"{where} is {json.dumps(value)}, which JSON does not allow"
        if isinstance(value, str) and not _utf8_encodable(value):
            return f"{where} is {value!r}, with a lone surrogate that UTF-8 cannot encode"
        if isinstance(value, dict):
            for key in value:
                if not _utf8_encodable(str(key)):
                    return f"{where} has a key {key!r} with a lone surrogate"
            children = [(f"{where}[{key!r}]", item) for key, item in value.items()]
        elif isinstance(value, list | tuple):
            children = [(f"{where}[{index}]", item) for index, item in enumerate(value)]
        else:
            continue
        pending.extend(reversed(children))  # depth first, in document order
    return "the document is not JSON"


def _utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode(obj: Any, storage_format: str) -> bytes:
    """The bytes of one stored file."""
    if storage_format == JSON:
        return strict_json(obj)
    if storage_format == CSV:
        buffer = io.BytesIO()
        # RFC 4180: CRLF line ends, a header row, quotes doubled; null is an empty unquoted field
        # and "" a quoted empty string, so both survive a round trip.
        pa_csv.write_csv(obj, buffer, pa_csv.WriteOptions(eol="\r\n"))
        return buffer.getvalue()
    if storage_format == PARQUET:
        buffer = io.BytesIO()
        pq.write_table(obj, buffer, compression="zstd")
        return buffer.getvalue()
    raise ValueError(f"unknown storage format {storage_format!r}")


def decode(data: bytes, storage_format: str, table_schema: pa.Schema | None = None) -> Any:
    """The value of one stored file; ``table_schema`` types the columns of a CSV."""
    if storage_format == JSON:
        return json.loads(data, parse_constant=_refuse_constant)
    if storage_format == CSV:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=table_schema,
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        # CSV cannot say a column is non-nullable; the schema can.
        return pa.Table.from_arrays(table.columns, schema=table_schema) if table_schema else table
    if storage_format == PARQUET:
        return pq.read_table(io.BytesIO(data))
    raise ValueError(f"unknown storage format {storage_format!r}")


def _refuse_constant(constant: str):
    raise NotStrictJSON(f"{constant} is not JSON")


def partition_path(base: UPath, asset_name: str, storage_format: str, playlist: str, week: str):
    """Where one partition of an asset lives under ``base`` (the asset's folder):
    ``raw/playlist_json`` -> ``playlist.json``, ``normalized/songs`` -> ``songs.parquet``."""
    file_name = f"{asset_name.removesuffix('_' + storage_format)}.{storage_format}"
    return base / f"{constants.WEEK}={week}" / f"{constants.PLAYLIST}={playlist}" / file_name


def _partition_label(context: dg.OutputContext, partition_key: str | None) -> str:
    """``playlist '<id>', week <week>`` for a partition of the lake, else the asset's key."""
    if partition_key is None:
        return context.asset_key.to_user_string()
    return partition_label(partition_key)


def _takes_bytes(context: dg.InputContext) -> bool:
    """Whether the input's type admits ``bytes``: it then gets the stored file as it is."""
    typing_type = context.dagster_type.typing_type
    return typing_type is bytes or bytes in get_args(typing_type)


class ObjectStoreIOManager(dg.UPathIOManager):
    """Stores each partition as one file in the design's Hive-style layout.

    The format comes from the asset's ``storage_format`` definition metadata (``json``, ``csv``
    or ``parquet``, the default). Local writes are atomic and durable: a temporary file, synced,
    renamed over the old one, and the folder synced.
    """

    extension = None  # the file name, extension included, is set per partition below

    @staticmethod
    def storage_format(context: dg.InputContext | dg.OutputContext) -> str:
        if isinstance(context, dg.InputContext):
            context = context.upstream_output
        return (context.definition_metadata or {}).get(STORAGE_FORMAT, PARQUET)

    def get_path_for_partition(
        self, context: dg.InputContext | dg.OutputContext, path: UPath, partition: str
    ) -> UPath:
        # `partition` is the multi-partition key with its dimensions in name order.
        playlist, week = partition.split("/")
        storage_format = self.storage_format(context)
        return partition_path(path, context.asset_key.path[-1], storage_format, playlist, week)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not context.has_asset_partitions or len(io_partition_keys(context)) == 1:
            super().handle_output(context, obj)
            return
        # A run over several partitions (a grouped backfill): each goes to its own folder, as a
        # run of it alone would write it. UPathIOManager stores one partition per output only.
        paths = self._get_paths_for_partitions(context)
        for partition_key, value in output_partitions(context, obj):
            path = paths[partition_key]
            self.make_directory(path.parent)
            self._dump_partition(context, value, path, partition_key)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        partition_key = context.asset_partition_key if context.has_asset_partitions else None
        self._dump_partition(context, obj, path, partition_key)

    def _dump_partition(
        self, context: dg.OutputContext, obj: Any, path: UPath, partition_key: str | None
    ) -> None:
        storage_format = self.storage_format(context)
        data = encode(obj, storage_format)
        try:
            self.write_bytes(path, data, CONTENT_TYPES[storage_format])
        except OSError as error:
            # A full disk or a failing one: say which partition, and that nothing was replaced.
            raise dg.Failure(
                description=f"{_partition_label(context, partition_key)}: writing {path} failed "
                f"({error.strerror or error}); the stored file, if any, is as it was",
                allow_retries=False,
            ) from None
        # "=" may stay as it is in a URI's path: the Hive folders then read as they are named.
        uri = path.as_uri().replace("%3D", "=")
        written = {"bytes_written": len(data), "dagster/uri": uri}
        if partition_key is None:
            context.add_output_metadata(written)
        else:
            add_partition_metadata(context, partition_key, written)
        if (context.definition_metadata or {}).get(KEEPS_LATEST_POINTER):
            self._point_at_if_newest(context, partition_key, obj, data)

    def _point_at_if_newest(
        self, context: dg.OutputContext, partition_key: str, document: Any, stored: bytes
    ) -> None:
        week, playlist = week_and_playlist_of(partition_key)
        written = latest_snapshot_of(document, week, stored)
        try:
            self.advance_latest_pointer(context.asset_key, playlist, written)
        except Exception as error:
            # The partition is stored; a pointer left behind costs the next run a full read of
            # the playlist, which failing the partition now would cost too.
            context.log.warning(
                f"{_partition_label(context, partition_key)}: stored, but its latest pointer was "
                "not updated "
                f"({type(error).__name__}: {error}); the next run reads the playlist in full"
            )

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        data = self.read_bytes(path)
        if _takes_bytes(context):
            return data  # unparsed: the input reads them itself
        table_schema = schema.FILE_SCHEMAS.get(context.asset_key.path[-1])
        return decode(data, self.storage_format(context), table_schema)

    def write_bytes(self, path: UPath, data: bytes, content_type: str) -> None:
        """Writes atomically: readers see the old file or the new one, never half of one; and
        durably: once it returns, a power cut leaves the new file, not an empty one."""
        directory = os.fspath(path.parent)
        _remove_orphaned_temporary_files(directory, path.name)
        fd, temporary = tempfile.mkstemp(
            prefix=_temporary_prefix(path.name), suffix=TEMPORARY_SUFFIX, dir=directory
        )
        try:
            # mkstemp makes the file private (0600); a lake file gets the usual umask mode, so
            # readers running as another user (DuckDB, a webserver) can open it.
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                # The data reaches the disk before the name does: a rename the disk keeps over
                # data it lost would replace a good file with an empty one.
                os.fsync(file.fileno())
            os.replace(temporary, os.fspath(path))
        except BaseException:
            os.unlink(temporary)
            raise
        _fsync_directory(directory)

    def read_bytes(self, path: UPath) -> bytes:
        return path.read_bytes()

    def replace_if(
        self, path: UPath, replacement: Callable[[bytes | None], bytes | None], content_type: str
    ) -> bool:
        """Compare and swap: reads ``path`` (None if absent) and writes what ``replacement`` makes
        of it (None: leaves it), with no other ``replace_if`` of ``path`` in between; returns
        whether it wrote. Locally under an exclusive lock of the folder, which the kernel releases
        if its holder is killed."""
        self.make_directory(path.parent)
        with _locked(os.fspath(path.parent)):
            try:
                current = self.read_bytes(path)
            except FileNotFoundError:
                current = None
            new = replacement(current)
            if new is None:
                return False
            self.write_bytes(path, new, content_type)
            return True

    def partition_file(
        self, asset_key: dg.AssetKey, storage_format: str, *, playlist: str, week: str
    ) -> UPath:
        """Where the partition ``playlist``, ``week`` of ``asset_key`` is stored."""
        folder = self._base_path.joinpath(*asset_key.path)
        return partition_path(folder, asset_key.path[-1], storage_format, playlist, week)

    def latest_pointer_path(self, asset_key: dg.AssetKey, playlist: str) -> UPath:
        return (
            self._base_path / LATEST / asset_key.path[-1] / f"{constants.PLAYLIST}={playlist}.json"
        )

    def latest_snapshot(self, asset_key: dg.AssetKey, playlist: str) -> LatestSnapshot | None:
        """The newest week stored for ``playlist`` and what it holds, from its pointer: one small
        read, whatever the history. None when there is no pointer (nothing stored yet, or a lake
        written before pointers) or it cannot be read."""
        try:
            return decode_pointer(self.read_bytes(self.latest_pointer_path(asset_key, playlist)))
        except FileNotFoundError:
            return None

    def advance_latest_pointer(
        self, asset_key: dg.AssetKey, playlist: str, written: LatestSnapshot
    ) -> bool:
        """Points ``playlist``'s pointer at the snapshot just ``written``, unless it names a newer
        week already (a backfill of an older week); returns whether it moved."""
        return self.replace_if(
            self.latest_pointer_path(asset_key, playlist),
            lambda current: (
                encode_pointer(written) if supersedes(written, decode_pointer(current)) else None
            ),
            CONTENT_TYPES[JSON],
        )

    def load_latest_snapshot(
        self, asset_key: dg.AssetKey, playlist: str, pointer: LatestSnapshot
    ) -> Any:
        """The JSON document ``pointer`` names; raises :class:`SnapshotReplaced` if the stored
        file is no longer the one it was written for (a re-run killed before its pointer)."""
        path = self.partition_file(asset_key, JSON, playlist=playlist, week=pointer.week)
        data = self.read_bytes(path)
        if not pointer.describes(data):
            raise SnapshotReplaced(f"{path} was replaced after its latest pointer was written")
        return decode(data, JSON)

    def keep_rejected(
        self,
        asset_key: dg.AssetKey,
        *,
        playlist: str,
        week: str,
        reason: str,
        source: str | None,
        document: Any,
    ) -> UPath:
        """Stores a refused ``document`` (``None``: it could not be read) with the ``reason``
        under ``rejected/`` (see the module docstring) and returns where."""
        rejected_at = dt.datetime.now(dt.UTC)
        folder = self._base_path / REJECTED / asset_key.path[-1]
        path = (
            folder
            / f"{constants.WEEK}={week}"
            / f"{constants.PLAYLIST}={playlist}"
            / f"{rejected_at:%Y%m%dT%H%M%S%fZ}.json"
        )
        envelope = {
            "playlist": playlist,
            "week": week,
            "rejected_at": rejected_at.isoformat(),
            "reason": reason,
            "source": source,
            "document": _lenient_json_text(document),
        }
        self.make_directory(path.parent)
        data = json.dumps(envelope, allow_nan=False).encode("ascii")
        self.write_bytes(path, data, CONTENT_TYPES[JSON])
        return path


def _lenient_json_text(document: Any) -> str | None:
    """The refused document as JSON text, whatever it holds, or None if it is too deep to write."""
    if document is None:
        return None
    try:
        return json.dumps(document)  # ASCII: a lone surrogate becomes an escape
    except RecursionError:
        return None


def _temporary_prefix(file_name: str) -> str:
    """Hidden, and named after the file it replaces, so readers skip it and the next write of the
    partition finds it."""
    return f".{file_name}."


def _remove_orphaned_temporary_files(directory: str, file_name: str) -> None:
    """Removes the temporary files that killed runs left beside ``file_name``."""
    orphaned_before = time.time() - ORPHANED_AFTER_SECONDS
    pattern = f"{glob.escape(_temporary_prefix(file_name))}*{TEMPORARY_SUFFIX}"
    for temporary in Path(directory).glob(pattern):
        # Another writer may remove it first.
        with contextlib.suppress(FileNotFoundError):
            if temporary.stat().st_mtime < orphaned_before:
                temporary.unlink()


@contextlib.contextmanager
def _locked(directory: str):
    """An exclusive lock on ``directory``, between threads and processes alike (one ``flock`` per
    open): the kernel releases it when its holder closes it or dies."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_directory(directory: str) -> None:
    """Makes a rename in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        # Some file systems (network and virtual machine mounts) cannot sync a folder: the
        # rename is then as durable as they make it, and the write has succeeded.
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class LocalObjectStore(dg.ConfigurableIOManagerFactory):
    """The object store in a local folder (``SPOTIFY_ASSETS_DATA_DIR``)."""

    data_dir: str

    def create_io_manager(self, context) -> ObjectStoreIOManager:
        return ObjectStoreIOManager(base_path=UPath(self.data_dir))
