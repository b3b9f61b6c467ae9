"""The bucket behind `LAB_STORAGE_URL`, as the job system uses it: boto3's client of django-storages'
default storage (one configuration for the FileField and for us), boto3's transfer manager for files
(multipart and parallel above TRANSFER's threshold), keys relative to the storage's prefix.

The sha256 of every artifact is measured as it uploads and recorded in its row; every download is
checked against it: a truncated or swapped object is an error, never a model. S3 checks each part on
the wire itself (boto3 sends a checksum with every upload)."""
from __future__ import annotations

import hashlib
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

MB = 1 << 20
# boto3's defaults, but larger parts: a model of a few GB goes in ~100 parts, not ~400
TRANSFER = TransferConfig(multipart_threshold=16 * MB, multipart_chunksize=16 * MB, max_concurrency=8)


# what a request to the store raises when the store fails it (unreachable, refused, S3's 503 SlowDown)
STORE_ERRORS = (BotoCoreError, ClientError, Boto3Error)


class Corrupt(RuntimeError):
    """An object whose bytes are not the ones recorded."""


def enabled() -> bool:
    return bool(settings.LAB_STORAGE_URL)


def sha256_of(path: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MB), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


@dataclass
class Entry:
    rel: str
    size: int
    modified: float  # unix time


class Store:
    def __init__(self, storage):
        self.storage = storage
        self.bucket = storage.bucket_name
        self.prefix = storage.location.strip("/")
        self.client = storage.connection.meta.client

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def rel(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    def upload(self, path: Path, rel: str, digest: str | None = None) -> tuple[int, str]:
        """Put the file at `rel`; returns (size, sha256). The store refuses a part whose bytes do not
        match the checksum boto3 sends with it, so what it holds is what was read here."""
        if digest:
            self.put_file(path, rel)
            return os.path.getsize(path), digest
        # hashed while it uploads (hashlib lets go of the GIL): the hash costs no time of its own
        with ThreadPoolExecutor(1) as pool:
            hashed = pool.submit(sha256_of, path)
            self.put_file(path, rel)
            return hashed.result()

    def put_file(self, path: Path, rel: str) -> None:
        self.client.upload_file(str(path), self.bucket, self.key(rel), Config=TRANSFER)

    def download(self, rel: str, dest: Path, digest: str | None = None) -> str:
        """Fetch `rel` into `dest` (whole or not at all: a temporary file renamed); with `digest`, its
        bytes must hash to it. Returns the sha256. FileNotFoundError if there is no such object."""
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            try:
                self.client.download_file(self.bucket, self.key(rel), tmp, Config=TRANSFER)
            except ClientError as exc:
                if _missing(exc):
                    raise FileNotFoundError(f"no object {rel} in the store") from exc
                raise
            _size, got = sha256_of(Path(tmp))
            if digest and got != digest:
                raise Corrupt(f"{rel}: its bytes hash to {got[:12]}, the lab recorded {digest[:12]}")
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return got

    def read(self, rel: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(rel))["Body"].read()
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def read_range(self, rel: str, offset: int, length: int) -> bytes:
        """`length` bytes of the object from `offset` (one ranged GET: a header, not the file);
        FileNotFoundError if there is no such object."""
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(rel),
                                         Range=f"bytes={offset}-{offset + length - 1}")
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"no object {rel} in the store") from exc
            raise
        return obj["Body"].read()

    def put_bytes(self, rel: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=data)

    def open(self, rel: str):
        """(stream, size) of the object, read as the caller goes: nothing is buffered whole."""
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(rel))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(f"no object {rel} in the store") from exc
            raise
        return obj["Body"], obj["ContentLength"]

    def presigned_url(self, rel: str, filename: str, seconds: int) -> str:
        disposition = f"attachment; filename*=UTF-8''{_quote(filename)}"
        return self.client.generate_presigned_url("get_object", ExpiresIn=seconds, Params={
            "Bucket": self.bucket, "Key": self.key(rel), "ResponseContentDisposition": disposition})

    def list(self, rel_prefix: str) -> list[Entry]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self.key(rel_prefix)):
            for obj in page.get("Contents", []):
                out.append(Entry(self.rel(obj["Key"]), obj["Size"], obj["LastModified"].timestamp()))
        return out

    def delete(self, rels: list[str]) -> None:
        for i in range(0, len(rels), 1000):  # S3's most per request
            batch = [{"Key": self.key(r)} for r in rels[i:i + 1000]]
            if batch:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def delete_prefix(self, rel_prefix: str) -> int:
        entries = self.list(rel_prefix)
        self.delete([e.rel for e in entries])
        return sum(e.size for e in entries)


@lru_cache(maxsize=1)
def _store_for(url: str) -> Store:
    from django.core.files.storage import default_storage

    return Store(default_storage)


def store() -> Store:
    """The lab's bucket (LAB_STORAGE_URL must be set)."""
    if not enabled():
        raise RuntimeError("LAB_STORAGE_URL is not set: the lab keeps its files in MEDIA_ROOT")
    return _store_for(settings.LAB_STORAGE_URL)


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
