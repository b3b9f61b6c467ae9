"""Uploads in chunks that resume: the tus 1.0 protocol (tus.io) served by drf-tus at /api/uploads/.

A client creates an upload (POST with `Upload-Length`), sends PATCHes from the offset the server holds, and
after an interruption asks that offset (HEAD) and goes on from it. The offset is the row's, in the database.
The bytes gather in one file under MEDIA_ROOT/uploads/ named by the upload's guid (one box, or a MEDIA_ROOT
every web node shares); with an object store (LAB_STORAGE_URL) each PATCH's bytes are an object of their own
(jobs/chunkstore.py), so the PATCHes and the finish may each land on another web node. Once complete,
POST /api/artifacts/ with `upload` (the guid) in place of `file` validates it and makes it an artifact, and
its bytes go. Each upload belongs to the user who created it: nobody else can see, continue or finish it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import models
from rest_framework_tus import states
from rest_framework_tus.models import AbstractUpload
from rest_framework_tus.storage import AbstractUploadSaveHandler

from . import chunkstore, objectstore
from .chunkstore import ChunksMissing  # noqa: F401 (what complete_file raises)

log = logging.getLogger(__name__)
# after drf-tus's `done`: one POST /api/artifacts/ is making the upload an artifact (ChunkedUpload.claim)
FINISHING = "finishing"


def uploads_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads"


class ChunkedUpload(AbstractUpload):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chunked_uploads")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def get_or_create_temporary_file(self):
        # with a store the field names the chunks' prefix there (drf-tus wants something to exist)
        if not self.temporary_file_path and objectstore.enabled():
            self.temporary_file_path = chunkstore.prefix(self.guid)
            self.save(update_fields=["temporary_file_path"])
        # in the lab's own folder, not the system's temporary one: the operator sizes and cleans one place
        if not self.temporary_file_path:
            folder = uploads_dir()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{self.guid}.part"
            path.touch()
            self.temporary_file_path = str(path)
            self.save(update_fields=["temporary_file_path"])
        return self.temporary_file_path

    def temporary_file_exists(self):
        if objectstore.enabled():
            return bool(self.temporary_file_path)
        return super().temporary_file_exists()

    def write_data(self, data, chunk_size):
        if objectstore.enabled():
            try:
                written = chunkstore.put_chunk(self.guid, self.upload_offset, data, uploads_dir())
            except objectstore.STORE_ERRORS as exc:
                # drf-tus deletes an upload whose write raised: a store failing one chunk (a 503 SlowDown, this node
                # cut off from it) must not cost the chunks stored before. The view answers 503 (store_failure)
                self.store_failure = exc
                return
        elif not isinstance(data, RequestBody):
            return super().write_data(data, chunk_size)
        else:
            with open(self.temporary_file_path, "r+b") as f:
                f.seek(self.upload_offset)
                written = data.copy_to(f)
        if written:
            self.upload_offset += written
            self.save()

    def delete(self, *args, **kwargs):
        # the row first: no PATCH can add a chunk after it (a PATCH holds the row's lock while it writes); a
        # store's chunks left by a failure here are removed by the collector (jobs/storegc.py)
        out = super(AbstractUpload, self).delete(*args, **kwargs)
        if objectstore.enabled():
            try:
                chunkstore.remove(self.guid)
            except objectstore.STORE_ERRORS as exc:  # the upload is gone either way: its chunks go later
                log.warning("upload %s: its chunks stay in the store until the collector's sweep: %s", self.guid, exc)
        elif self.temporary_file_path:
            Path(self.temporary_file_path).unlink(missing_ok=True)
        return out

    def claim(self) -> bool:
        """Take the complete upload for one POST /api/artifacts/: True for exactly one of several sent at once (to
        several web nodes, or a client's retry while its first request still validates), so one upload is never
        two artifacts."""
        return ChunkedUpload.objects.filter(pk=self.pk, state=states.DONE).update(state=FINISHING) == 1

    def release(self) -> None:
        """Give a claimed upload back (its finish failed on the store, not on the upload): it may be finished again."""
        ChunkedUpload.objects.filter(pk=self.pk, state=FINISHING).update(state=states.DONE)

    @contextlib.contextmanager
    def complete_file(self):
        """The path of a file holding the upload's bytes, for as long as the block runs: the partial file, or
        with a store its chunks streamed into a file in this node's MEDIA_ROOT/uploads/ (removed after).
        ChunksMissing when the store does not hold them all."""
        if not objectstore.enabled():
            yield Path(self.temporary_file_path)
            return
        folder = uploads_dir()
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".assemble-{self.guid}-", suffix=".part") as f:
            chunkstore.assemble(self.guid, self.upload_length, f)
            yield Path(f.name)

    def upload_metadata_dict(self) -> dict:
        # drf-tus keeps the decoded Upload-Metadata header as a JSON text in a JSON field
        data = self.upload_metadata
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                return {}
        return data if isinstance(data, dict) else {}

    def bytes_held(self) -> int:
        """Bytes stored so far: the partial file's size, or the sum of the chunks in the store."""
        if objectstore.enabled():
            return chunkstore.held(self.guid)
        try:
            return os.path.getsize(self.temporary_file_path) if self.temporary_file_path else 0
        except FileNotFoundError:
            return 0


COPY_BYTES = 1024 * 1024  # what a chunk's copy holds in memory at once


class RequestBody:
    """A PATCH's body of `length` bytes, not yet read: ChunkedUpload.write_data copies it to the partial file
    piece by piece (the web server has spooled it to disk)."""

    def __init__(self, request, length: int):
        self.request, self.length = request, length

    def __bool__(self):
        return self.length > 0

    def copy_to(self, f) -> int:
        written = 0
        while written < self.length:
            piece = self.request.read(min(COPY_BYTES, self.length - written))
            if not piece:
                break  # the client sent less than its Content-Length: what came is kept, the offset says so
            f.write(piece)
            written += len(piece)
        return written


def remove_expired(now=None) -> list[ChunkedUpload]:
    """Unfinished uploads past their `expires` (LAB_UPLOAD_EXPIRE_HOURS after creation) and their bytes; run by the
    web process as it creates an upload, and with a store by the collector too (jobs/storegc.py: the chunks
    lie in the bucket, not on a web node). Returns those that went."""
    from django.utils import timezone

    gone = list(ChunkedUpload.objects.filter(expires__lt=now or timezone.now()))
    for upload in gone:
        upload.delete()
    return gone


def remove_stale_scratch() -> list[Path]:
    """This node's own leftovers in MEDIA_ROOT/uploads/ older than LAB_UPLOAD_EXPIRE_HOURS: the copy of a chunk, of
    a finish or of a one-request upload (`.chunk-*`, `.assemble-*`, `.request-*`) whose web process was killed in
    the middle of the request. Only names with a leading dot: a `<guid>.part` is an upload's, its row decides."""
    import time

    cutoff = time.time() - settings.LAB_UPLOAD_EXPIRE_HOURS * 3600
    gone = []
    for path in uploads_dir().glob(".*"):
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                gone.append(path)
        except FileNotFoundError:  # another request of this node removed it first
            continue
    return gone


class KeepInPlace(AbstractUploadSaveHandler):
    """A complete upload stays where its chunks gathered until POST /api/artifacts/ takes it: the artifact, not
    drf-tus, decides where bytes are stored (the job's folder, or the object store)."""

    def handle_save(self):
        self.finish()
