"""The collector and the chunks of tus uploads in the object store (jobs/storegc.py, jobs/chunkstore.py): an upload
past LAB_UPLOAD_EXPIRE_HOURS goes with its chunks, an unfinished one within it keeps them, and chunks no upload
row owns go once they are older than LAB_GC_ORPHAN_GRACE_SECONDS."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import chunkstore
from jobs.chunked import ChunkedUpload
from jobs.retention import collect
from tests.storage.test_store_lifecycle import on_s3  # noqa: F401 (the fixture: this process on a fresh bucket)

pytestmark = pytest.mark.django_db(transaction=True)


def upload_with_chunks(user, sizes: list[int], expires) -> ChunkedUpload:
    row = ChunkedUpload.objects.create(owner=user, upload_length=sum(sizes) + 10, upload_offset=sum(sizes),
                                       upload_metadata="{}", expires=expires)
    offset = 0
    for size in sizes:
        chunkstore.put_chunk(row.guid, offset, b"c" * size)
        offset += size
    return row


def test_the_collector_removes_expired_uploads_and_chunks_no_upload_owns(on_s3, user, settings):  # noqa: F811
    now = timezone.now()
    expired = upload_with_chunks(user, [100, 50], now - timedelta(minutes=1))
    live = upload_with_chunks(user, [70], now + timedelta(hours=1))
    orphan = uuid.uuid4()
    chunkstore.put_chunk(orphan, 0, b"o" * 30)  # its row went, its chunks did not
    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 3600

    dry = collect(dry_run=True)
    assert [(r.path.name, r.bytes) for r in dry.removed] == [(str(expired.guid), 150)]
    assert chunkstore.held(expired.guid) == 150 and ChunkedUpload.objects.filter(pk=expired.pk).exists()

    report = collect()
    assert [(r.path.name, r.bytes) for r in report.removed] == [(str(expired.guid), 150)]
    assert "LAB_UPLOAD_EXPIRE_HOURS" in report.removed[0].why
    assert not ChunkedUpload.objects.filter(pk=expired.pk).exists() and chunkstore.held(expired.guid) == 0
    assert chunkstore.held(live.guid) == 70 and chunkstore.held(orphan) == 30  # within its time, within the grace

    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 0
    report = collect()
    assert [(r.path.name, r.bytes, r.why) for r in report.removed] == [(str(orphan), 30, "no upload owns these chunks")]
    assert chunkstore.held(orphan) == 0
    assert chunkstore.held(live.guid) == 70 and ChunkedUpload.objects.filter(pk=live.pk).exists()
