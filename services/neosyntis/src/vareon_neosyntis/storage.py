"""Object storage behind one small interface: a local directory, or an S3-compatible bucket.

Writers are synchronous (callers run them in a worker thread) and atomic: nothing is visible
under the key until ``commit``; ``abort`` leaves nothing behind. Locally that is a temp file
in the storage's own ``.incoming/`` directory renamed into place; on S3 it is a multipart
upload that is completed or aborted.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

READ_CHUNK = 1024 * 1024


class ObjectWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...


class Storage(Protocol):
    def writer(self, key: str) -> ObjectWriter: ...
    def read(self, key: str) -> Iterator[bytes]: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / ".incoming"
        self.incoming.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key escapes the storage root: {key!r}")
        return path

    def writer(self, key: str) -> LocalWriter:
        return LocalWriter(self.incoming / f"{uuid.uuid4().hex}.part", self.path(key))

    def read(self, key: str) -> Iterator[bytes]:
        with self.path(key).open("rb") as f:
            while chunk := f.read(READ_CHUNK):
                yield chunk

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def leftovers(self) -> list[Path]:
        """Files of uploads in progress (or orphaned ones): empty between uploads."""
        return sorted(self.incoming.iterdir())


class LocalWriter:
    def __init__(self, temp: Path, final: Path) -> None:
        self.temp = temp
        self.final = final
        self._file = temp.open("wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)

    def commit(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.temp, self.final)  # atomic: same file system

    def abort(self) -> None:
        self._file.close()
        self.temp.unlink(missing_ok=True)


class S3Storage:
    def __init__(
        self, client: Any, bucket: str, prefix: str = "", part_size: int = 8 << 20
    ) -> None:
        if part_size < 5 << 20:
            raise ValueError("S3 parts must be at least 5 MiB")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.part_size = part_size

    def _key(self, key: str) -> str:
        return self.prefix + key

    def writer(self, key: str) -> S3Writer:
        return S3Writer(self.client, self.bucket, self._key(key), self.part_size)

    def read(self, key: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        try:
            while chunk := body.read(READ_CHUNK):
                yield chunk
        finally:
            body.close()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(key))
        return any(o["Key"] == self._key(key) for o in listing.get("Contents", ()))


class S3Writer:
    """A multipart upload: at most one part is buffered in memory."""

    def __init__(self, client: Any, bucket: str, key: str, part_size: int) -> None:
        self.client = client
        self.bucket = bucket
        self.key = key
        self.part_size = part_size
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= self.part_size:
            self._send(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]

    def _send(self, data: bytes) -> None:
        number = len(self._parts) + 1
        response = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, Body=data, UploadId=self._upload_id, PartNumber=number
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def commit(self) -> None:
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self.client.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        self._buffer.clear()
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )


def build_storage(settings: Any) -> Storage:
    if settings.storage_backend == "s3":
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
        )
        return S3Storage(client, settings.s3_bucket, settings.s3_prefix, settings.s3_part_size)
    return LocalStorage(Path(settings.storage_dir))
