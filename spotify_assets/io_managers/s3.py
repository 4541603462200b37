"""The object store in S3: the same class, layout and bytes as the local one, under
``s3://<bucket>/<prefix>``, through boto3 (dagster-aws's ``S3Resource``)."""

from collections.abc import Callable

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from upath import UPath

from spotify_assets.io_managers.object_store import ObjectStoreIOManager

NOT_FOUND = ("404", "NoSuchKey", "NotFound")
# A conditional write that lost to another writer: the object changed (or appeared, or went)
# between the read and the write.
LOST_THE_RACE = ("412", "PreconditionFailed", "409", "ConditionalRequestConflict", *NOT_FOUND)
CONDITIONAL_WRITE_ATTEMPTS = 5


def s3_root(bucket: str, prefix: str = "") -> UPath:
    """``s3://bucket/prefix``, with no slash doubled whatever the prefix looks like."""
    return UPath(f"s3://{bucket}/{prefix.strip('/')}")


class S3ObjectStoreIOManager(ObjectStoreIOManager):
    """:class:`ObjectStoreIOManager` with its byte hooks on S3: one PutObject per partition, with
    the format's content type. A PutObject is atomic, so readers never see half a file."""

    def __init__(self, s3_client, bucket: str, prefix: str = ""):
        super().__init__(base_path=s3_root(bucket, prefix))
        self.s3 = s3_client
        self.bucket = bucket

    def key(self, path: UPath) -> str:
        return path.path.removeprefix(f"{self.bucket}/")

    def write_bytes(self, path: UPath, data: bytes, content_type: str) -> None:
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key(path), Body=data, ContentType=content_type
        )

    def read_bytes(self, path: UPath) -> bytes:
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key(path))
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND:
                raise FileNotFoundError(f"{path} does not exist") from None
            raise
        return response["Body"].read()

    def replace_if(
        self, path: UPath, replacement: Callable[[bytes | None], bytes | None], content_type: str
    ) -> bool:
        """Compare and swap with S3's conditional writes: the PutObject goes through only if the
        object is still the one read (``If-Match`` its ETag) or still absent (``If-None-Match``);
        a lost race reads it again."""
        key = self.key(path)
        for _ in range(CONDITIONAL_WRITE_ATTEMPTS):
            try:
                response = self.s3.get_object(Bucket=self.bucket, Key=key)
                current, condition = response["Body"].read(), {"IfMatch": response["ETag"]}
            except ClientError as error:
                if error.response["Error"]["Code"] not in NOT_FOUND:
                    raise
                current, condition = None, {"IfNoneMatch": "*"}
            new = replacement(current)
            if new is None:
                return False
            try:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=new, ContentType=content_type, **condition
                )
            except ClientError as error:
                if error.response["Error"]["Code"] not in LOST_THE_RACE:
                    raise
                continue
            return True
        raise RuntimeError(
            f"{path}: other writers replaced it {CONDITIONAL_WRITE_ATTEMPTS} times in a row"
        )

    def path_exists(self, path: UPath) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.key(path))
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND:
                return False
            raise
        return True

    def unlink(self, path: UPath) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(path))

    def make_directory(self, path: UPath) -> None:
        pass  # S3 has no directories: a key's folders exist as soon as the key does

    def _handle_transition_to_partitioned_asset(self, context, path: UPath) -> None:
        # Dagster's base class looks for a file left by an unpartitioned version of the asset
        # through fsspec (which would need s3fs); these assets have always been partitioned.
        pass


class S3ObjectStore(dg.ConfigurableIOManagerFactory):
    """The object store in S3 (aws deployment): raw JSON and CSV, normalized Parquet, in
    Hive-style folders under ``s3://<bucket>/<prefix>``, as Athena and Glue read them."""

    s3: dg.ResourceDependency[S3Resource]
    bucket: str
    prefix: str = ""

    def create_io_manager(self, context) -> S3ObjectStoreIOManager:
        return S3ObjectStoreIOManager(self.s3.get_client(), self.bucket, self.prefix)
