"""Lakes for the SQL tests: the sample weeks materialized through Dagster (once per session),
a large synthetic lake written straight with pyarrow, and an independent reader of either."""

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spotify_assets import constants
from spotify_assets.assets.normalized import normalized_tables
from spotify_assets.assets.raw import playlist_json
from spotify_assets.playlist_partitions import add_playlists
from spotify_assets.sources.sample_generator import SAMPLE_PLAYLIST_IDS, SAMPLE_WEEKS
from spotify_assets.transforms import schema
from spotify_assets_tests.conftest import local_resources, partition

_sample_lake: Path | None = None


def sample_lake(tmp_path_factory) -> Path:
    """A data dir holding every sample week of every sample playlist, raw and normalized, as
    materialized by Dagster. Built once per test session and shared: read it, never write to
    its `normalized/` folder."""
    global _sample_lake
    if _sample_lake is None:
        data_dir = tmp_path_factory.mktemp("sample_lake") / "data"
        # One job resolved once and fifty in-process runs of it: about a quarter of a second
        # each, against a second through dg.materialize.
        defs = dg.Definitions(
            assets=[playlist_json, normalized_tables],
            jobs=[dg.define_asset_job("sample_lake")],
            resources=local_resources(data_dir),
        )
        job = defs.resolve_job_def("sample_lake")
        instance = dg.DagsterInstance.ephemeral()
        add_playlists(instance, SAMPLE_PLAYLIST_IDS)
        for playlist_id in SAMPLE_PLAYLIST_IDS:
            for week in SAMPLE_WEEKS:
                result = job.execute_in_process(
                    partition_key=partition(playlist_id, week), instance=instance
                )
                assert result.success, (playlist_id, week)
        _sample_lake = data_dir
    return _sample_lake


def read_lake(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every normalized table as one DataFrame, with `week` and `playlist` taken from each
    file's folders: pyarrow and pandas only, so it checks the SQL engine independently."""
    tables = {}
    for table, table_schema in schema.TABLE_SCHEMAS.items():
        frames = []
        for path in sorted((data_dir / constants.NORMALIZED / table).glob("*/*/*.parquet")):
            frame = pq.read_table(path).to_pandas()
            frame[constants.WEEK] = path.parent.parent.name.removeprefix("week=")
            frame[constants.PLAYLIST] = path.parent.name.removeprefix("playlist=")
            frames.append(frame)
        columns = [*table_schema.names, constants.WEEK, constants.PLAYLIST]
        tables[table] = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
        )
    return tables


def generate_lake(
    root: Path,
    *,
    playlists: int = 50,
    weeks: int = 52,
    entries: int = 500,
    churn: int = 10,
    catalog_size: int = 20_000,
    seed: int = 7,
    tables: tuple[str, ...] = constants.NORMALIZED_TABLES,
    first_playlist: int = 0,
) -> int:
    """Writes a synthetic lake of ``playlists`` x ``weeks`` partitions of ``entries`` tracks
    each (``churn`` replaced every week) in the lake's layout, straight with pyarrow, for the
    normalized ``tables`` asked for. Playlists are numbered from ``first_playlist``, so a big
    lake can be written a slice at a time. Returns the number of files written."""
    rng = np.random.default_rng(seed)
    song_ids = pa.array([f"{index:022d}" for index in range(catalog_size)])
    artist_of = rng.integers(0, catalog_size // 8, catalog_size)
    album_of = rng.integers(0, catalog_size // 3, catalog_size)
    durations = pa.array(rng.integers(90_000, 420_000, catalog_size), pa.int64())

    members = np.empty((playlists, weeks, entries), dtype=np.int64)
    for playlist in range(playlists):
        current = rng.choice(catalog_size, entries, replace=False)
        for week in range(weeks):
            members[playlist, week] = current
            candidates = rng.choice(catalog_size, churn * 4)
            fresh = np.unique(candidates[~np.isin(candidates, current)])[:churn]
            current = current.copy()
            current[rng.choice(entries, len(fresh), replace=False)] = fresh
    week_names = [(dt.date(2025, 1, 6) + dt.timedelta(weeks=w)).isoformat() for w in range(weeks)]
    playlist_names = [f"{p:022d}" for p in range(first_playlist, first_playlist + playlists)]

    song = pa.array(members.reshape(-1))
    week_column = pa.array(np.repeat(np.tile(np.arange(weeks), playlists), entries))
    playlist_column = pa.array(np.repeat(np.arange(playlists), weeks * entries))
    partitions = {
        constants.WEEK: pc.take(pa.array(week_names), week_column),
        constants.PLAYLIST: pc.take(pa.array(playlist_names), playlist_column),
    }
    rows = len(song)
    song_id = pc.take(song_ids, song)
    artist_id = pc.take(pa.array(np.char.add("a", artist_of.astype(str))), song)
    album_id = pc.take(pa.array(np.char.add("b", album_of.astype(str))), song)

    def nulls(kind) -> pa.Array:
        return pa.nulls(rows, kind)

    facts = {
        constants.PLAYLIST_ENTRIES: {
            "position": pa.array(np.tile(np.arange(entries), playlists * weeks), pa.int64()),
            "item_type": pa.array(np.full(rows, "track", dtype=object)),
            "song_id": song_id,
            "playable_song_id": nulls(pa.string()),
            "uri": pc.binary_join_element_wise("spotify:track:", song_id, ""),
            "name": song_id,
            "duration_ms": pc.take(durations, song),
            "added_at": nulls(schema.TIMESTAMP),
            "added_by": nulls(pa.string()),
            "snapshot_id": partitions[constants.WEEK],
        },
        constants.SONGS: {
            "song_id": song_id,
            "song_name": song_id,
            "duration_ms": pc.take(durations, song),
            "url": nulls(pa.string()),
            "popularity": nulls(pa.int64()),
            "song_added": nulls(schema.TIMESTAMP),
            "album_id": album_id,
            "artist_id": artist_id,
            "isrc": nulls(pa.string()),
            "explicit": pa.array(np.zeros(rows, dtype=bool)),
            "disc_number": pa.array(np.ones(rows, dtype=np.int64)),
            "track_number": pa.array(np.ones(rows, dtype=np.int64)),
        },
        constants.SONG_ARTISTS: {
            "song_id": song_id,
            "artist_position": pa.array(np.zeros(rows, dtype=np.int64)),
            "artist_id": artist_id,
        },
    }
    files = 0
    for table, columns in facts.items():
        if table in tables:
            data = pa.table({**columns, **partitions})
            files += _write(root, table, data, schema.TABLE_SCHEMAS[table])
    for table, ids in ((constants.ARTISTS, artist_id), (constants.ALBUMS, album_id)):
        if table not in tables:
            continue
        distinct = (
            pa.table({"id": ids, **partitions})
            .group_by(["id", constants.WEEK, constants.PLAYLIST], use_threads=False)
            .aggregate([])
        )
        table_schema = schema.TABLE_SCHEMAS[table]
        key, name = table_schema.names[:2]  # the id, then the name
        columns = {
            field.name: distinct["id"]
            if field.name in (key, name)
            else pa.nulls(distinct.num_rows, field.type)
            for field in table_schema
        }
        data = pa.table({**columns, **{p: distinct[p] for p in partitions}})
        files += _write(root, table, data, table_schema)
    return files


def _write(root: Path, table: str, data: pa.Table, table_schema: pa.Schema) -> int:
    """One Parquet file per partition, named and placed as the object store does. A loop of
    ``pq.write_table`` over slices of the sorted table: about three times faster here than
    ``pyarrow.dataset.write_dataset`` for thousands of small files."""
    data = data.sort_by([(constants.WEEK, "ascending"), (constants.PLAYLIST, "ascending")])
    weeks = data[constants.WEEK].to_numpy(zero_copy_only=False)
    playlists = data[constants.PLAYLIST].to_numpy(zero_copy_only=False)
    changes = np.flatnonzero((weeks[1:] != weeks[:-1]) | (playlists[1:] != playlists[:-1])) + 1
    starts = [0, *changes.tolist()]
    ends = [*changes.tolist(), data.num_rows]
    body = data.select(table_schema.names).cast(table_schema)
    for start, end in zip(starts, ends, strict=True):
        folder = (
            root
            / constants.NORMALIZED
            / table
            / f"{constants.WEEK}={weeks[start]}"
            / f"{constants.PLAYLIST}={playlists[start]}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(body.slice(start, end - start), folder / f"{table}.parquet")
    return len(starts)
