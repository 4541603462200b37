"""The S3 object store on moto's server: the exact keys, content types and bytes written, and the
round trip, the same as the local store's."""

import io

import dagster as dg
import pyarrow.parquet as pq
import pytest
from upath import UPath

from spotify_assets import deployment
from spotify_assets.io_managers.object_store import CONTENT_TYPES, CSV, JSON, PARQUET, encode
from spotify_assets.io_managers.s3 import S3ObjectStore, S3ObjectStoreIOManager, s3_root
from spotify_assets_tests.conftest import materialize, partition
from spotify_assets_tests.test_io_managers import (
    ARTISTS,
    CSV_TABLE,
    DOCUMENT,
    PLAYLIST,
    WEEK,
    _stored_assets,
)


def _objects(s3, bucket: str) -> dict[str, dict]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.get_object(Bucket=bucket, Key=key) for key in keys}


@pytest.mark.parametrize("prefix", ["lake", "/deep/lake/", ""])
def test_s3_store_writes_the_hive_layout_with_content_types_and_reads_it_back(aws_storage, prefix):
    loaded = {}
    result = materialize(
        _stored_assets(loaded),
        partition_key=partition(PLAYLIST, WEEK),
        resources={
            "object_store": S3ObjectStore(
                s3=deployment.s3_resource(), bucket=aws_storage.bucket, prefix=prefix
            ),
            "mem": dg.InMemoryIOManager(),
        },
    )
    assert result.success
    root = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    folder = f"week={WEEK}/playlist={PLAYLIST}"
    s3 = deployment.s3_resource().get_client()
    objects = _objects(s3, aws_storage.bucket)
    expected = {
        f"{root}normalized/artists/{folder}/artists.parquet": (PARQUET, ARTISTS),
        f"{root}raw/playlist_csv/{folder}/playlist.csv": (CSV, CSV_TABLE),
        f"{root}raw/playlist_json/{folder}/playlist.json": (JSON, DOCUMENT),
    }
    assert sorted(objects) == sorted(expected)
    for key, (storage_format, value) in expected.items():
        assert objects[key]["ContentType"] == CONTENT_TYPES[storage_format]
        assert objects[key]["Body"].read() == encode(value, storage_format)  # same bytes as local
    assert loaded["document"] == DOCUMENT
    assert loaded["csv_table"].equals(CSV_TABLE)
    assert loaded["artists"].equals(ARTISTS)
    metadata = result.asset_materializations_for_node("raw__playlist_json")[0].metadata
    json_key = f"{root}raw/playlist_json/{folder}/playlist.json"
    assert metadata["path"].value == f"s3://{aws_storage.bucket}/{json_key}"
    assert metadata["bytes_written"].value == objects[json_key]["ContentLength"]


def test_s3_parquet_is_compressed(aws_storage):
    manager = S3ObjectStoreIOManager(
        deployment.s3_resource().get_client(), aws_storage.bucket, "lake"
    )
    path = s3_root(aws_storage.bucket, "lake") / "t.parquet"
    manager.write_bytes(path, encode(ARTISTS, PARQUET), CONTENT_TYPES[PARQUET])
    metadata = pq.ParquetFile(io.BytesIO(manager.read_bytes(path))).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


def test_s3_missing_objects_read_as_missing_files(aws_storage):
    manager = S3ObjectStoreIOManager(
        deployment.s3_resource().get_client(), aws_storage.bucket, "lake"
    )
    path = s3_root(aws_storage.bucket, "lake") / "raw" / "nothing.json"
    assert (
        isinstance(path, UPath) and str(path) == f"s3://{aws_storage.bucket}/lake/raw/nothing.json"
    )
    assert not manager.path_exists(path)
    with pytest.raises(FileNotFoundError, match="nothing.json does not exist"):
        manager.read_bytes(path)
    manager.write_bytes(path, b"{}", CONTENT_TYPES[JSON])
    assert manager.path_exists(path)
    manager.unlink(path)
    assert not manager.path_exists(path)
