"""jobs/retention.py's policy applied to the object store (LAB_STORAGE_URL set).

Under `jobs/<storage key>/` a job's objects are its artifacts (`attempt-<k>/<name>`, each named by an
Artifact row), one checkpoint per attempt that wrote one (`attempt-<k>/checkpoint/`) and the record of
the params they were written for (`params.sha256`, jobs/transfer.py claim_prefix). Of a finished
job the collector keeps the objects its rows name and its newest LAB_RETENTION_KEEP_CHECKPOINTS
checkpoints (none after LAB_RETENTION_CHECKPOINT_DAYS); the rest (an artifact of an attempt fenced
out or superseded, older checkpoints) goes. A prefix no row owns goes once it is older than
LAB_GC_ORPHAN_GRACE_SECONDS. Queued and running jobs are never touched.

Under `uploads/<guid>/` lie the chunks of unfinished tus uploads (jobs/chunkstore.py). An upload past its
`expires` (LAB_UPLOAD_EXPIRE_HOURS) goes with its row, as the web process removes it when an upload is created;
chunks no row owns (a failure after the row was deleted) go once they are older than the grace.
"""
from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from pathlib import PurePosixPath

from django.conf import settings

from .chunked import ChunkedUpload, remove_expired
from .chunkstore import prefix as upload_prefix
from .models import Artifact, Job
from .objectstore import store
from .storage import PARAMS_RECORD

CHECKPOINT_KEY = re.compile(r"jobs/([^/]+)/attempt-(\d+)/checkpoint/")


def collect(report, dry_run: bool, now) -> None:
    """Fill `report` (a retention.Report) with what goes from the store, and remove it unless `dry_run`."""
    from .retention import Removal

    bucket = store()
    by_job: dict[str, list] = {}
    for e in bucket.list("jobs/"):
        by_job.setdefault(e.rel.split("/")[1], []).append(e)
    keys = {k: _as_uuid(k) for k in by_job}
    rows = {str(r["storage_key"]): r for r in Job.objects.filter(storage_key__in=[u for u in keys.values() if u])
            .values("id", "storage_key", "status", "finished_at", "bytes_stored")}
    doomed: list[str] = []
    grace = settings.LAB_GC_ORPHAN_GRACE_SECONDS
    for key, entries in sorted(by_job.items()):
        row = rows.get(key)
        if row is None:
            if time.time() - max(e.modified for e in entries) >= grace:
                report.removed.append(Removal(PurePosixPath(key), sum(e.size for e in entries),
                                              "no job owns this folder"))
                doomed += [e.rel for e in entries]
            continue
        if row["status"] not in Job.FINISHED:
            continue
        going = _thin(row, entries, now)
        for rel, size, why in going:
            report.removed.append(Removal(PurePosixPath(rel).relative_to("jobs"), size, why))
        doomed += [rel for rel, _s, _w in going]
        size = sum(e.size for e in entries) - sum(s for _r, s, _w in going)
        if not dry_run and size != row["bytes_stored"]:
            Job.objects.filter(pk=row["id"]).update(bytes_stored=size)
            report.measured[row["id"]] = size
    if not dry_run:
        bucket.delete(doomed)
        gone = Job.objects.filter(status__in=Job.FINISHED, bytes_stored__gt=0).exclude(storage_key__in=list(rows))
        for job_id in gone.values_list("id", flat=True):
            report.measured[job_id] = 0
        gone.update(bytes_stored=0)
    collect_uploads(report, dry_run, now)


def collect_uploads(report, dry_run: bool, now) -> None:
    """Fill `report` with the chunks of expired and abandoned uploads, and remove them unless `dry_run`."""
    from .retention import Removal

    by_guid: dict[str, list] = {}
    for e in store().list("uploads/"):
        by_guid.setdefault(e.rel.split("/")[1], []).append(e)
    gone = list(ChunkedUpload.objects.filter(expires__lt=now)) if dry_run else remove_expired(now)
    for row in gone:
        report.removed.append(Removal(PurePosixPath(upload_prefix(row.guid)), sum(
            e.size for e in by_guid.pop(str(row.guid), [])), "an unfinished upload past LAB_UPLOAD_EXPIRE_HOURS"))
    owned = {str(g) for g in ChunkedUpload.objects.filter(
        guid__in=[u for u in map(_as_uuid, by_guid) if u]).values_list("guid", flat=True)}
    grace = settings.LAB_GC_ORPHAN_GRACE_SECONDS
    doomed = []
    for guid, entries in sorted(by_guid.items()):
        if guid not in owned and time.time() - max(e.modified for e in entries) >= grace:
            report.removed.append(Removal(PurePosixPath(f"uploads/{guid}"), sum(e.size for e in entries),
                                          "no upload owns these chunks"))
            doomed += [e.rel for e in entries]
    if not dry_run:
        store().delete(doomed)


def _thin(row: dict, entries: list, now) -> list[tuple[str, int, str]]:
    named = set(Artifact.objects.filter(job_id=row["id"]).values_list("file", flat=True))
    keep = max(settings.LAB_RETENTION_KEEP_CHECKPOINTS, 0)
    days = settings.LAB_RETENTION_CHECKPOINT_DAYS
    expired = days > 0 and row["finished_at"] and row["finished_at"] < now - timedelta(days=days)
    why = f"finished more than {days:g} days ago" if expired else f"finished: keeps its newest {keep}"
    attempts = sorted({int(m.group(2)) for e in entries if (m := CHECKPOINT_KEY.match(e.rel))}, reverse=True)
    kept = set(attempts[:0 if expired else keep])
    out = []
    for e in entries:
        m = CHECKPOINT_KEY.match(e.rel)
        if m:
            if int(m.group(2)) not in kept:
                out.append((e.rel, e.size, why))
        elif e.rel not in named and not e.rel.endswith("/" + PARAMS_RECORD):  # the record stays, as on disk
            out.append((e.rel, e.size, "the job ended: no artifact names this object"))
    return out


def _as_uuid(name: str):
    try:
        return uuid.UUID(name)
    except ValueError:
        return None
