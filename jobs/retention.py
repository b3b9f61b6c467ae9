"""What stays on disk once jobs end, and the collector that enforces it.

- A folder under MEDIA_ROOT/jobs/ that no row owns (its job deleted while the files were being
  removed, a database reset or restore, a folder `claim_folder` set aside) is removed once it is
  older than LAB_GC_ORPHAN_GRACE_SECONDS.
- A finished job keeps its newest LAB_RETENTION_KEEP_CHECKPOINTS checkpoints, and none once it
  finished LAB_RETENTION_CHECKPOINT_DAYS ago. Queued and running jobs are never touched.
- A finished job's attempt folders keep only their checkpoint (jobs.storage.settle; the worker does
  this as the job ends, the collector for folders left otherwise).
- Every finished job's `bytes_stored` is measured again, so the storage quota follows what is on disk.

A checkpoint is a `checkpoint/` folder of ml/checkpoint.py's format wherever it sits inside the job's
folder (each attempt has its own): its `manifest.json` names the parts (`step-<k>/`) of its one
complete step; a part it does not name is a step an attempt did not finish, or an older one it was
killed before removing, and goes with the job's end whatever the policy. A `checkpoint/` folder
without a manifest holds no complete step: it counts as one checkpoint, older than any with one.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ml.checkpoint import manifest

from . import objectstore, storegc
from .models import Job
from .storage import CHECKPOINT, folder_bytes, leftovers, remove, settle

log = logging.getLogger(__name__)
LOCK_ID = 0x6C6162_6763  # pg advisory lock: one collector at a time across workers
_next_sweep = [0.0]


@dataclass
class Removal:
    path: Path
    bytes: int
    why: str


@dataclass
class Report:
    removed: list[Removal] = field(default_factory=list)
    measured: dict[int, int] = field(default_factory=dict)  # job id -> bytes_stored written

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.removed)


def jobs_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "jobs"


def collect(dry_run: bool = False, now=None) -> Report:
    """Apply the retention policy once. With `dry_run`, only say what would go."""
    now = now or timezone.now()
    report = Report()
    if objectstore.enabled():  # the store holds the files; a worker's MEDIA_ROOT is scratch (jobs/transfer.py)
        storegc.collect(report, dry_run, now)
        return report
    root = jobs_root()
    folders = {e.name: Path(e.path) for e in os.scandir(root) if e.is_dir(follow_symlinks=False)} \
        if root.is_dir() else {}
    keys = {name: _as_uuid(name) for name in folders}
    owners = {}
    wanted = [k for k in keys.values() if k is not None]
    for i in range(0, len(wanted), 1000):
        for row in Job.objects.filter(storage_key__in=wanted[i:i + 1000]).values(
                "id", "storage_key", "status", "finished_at", "bytes_stored"):
            owners[str(row["storage_key"])] = row
    grace = settings.LAB_GC_ORPHAN_GRACE_SECONDS
    for name, folder in sorted(folders.items()):
        row = owners.get(str(keys[name])) if keys[name] else None
        if row is None:
            if _age_seconds(folder) >= grace:
                report.removed.append(Removal(folder, folder_bytes(folder), "no job owns this folder"))
            continue
        if row["status"] not in Job.FINISHED:
            continue
        removals = _thin_checkpoints(folder, row, now) + [
            Removal(p, _bytes(p), "the job ended: an attempt keeps only its checkpoint") for p in leftovers(folder)]
        report.removed += removals
        if not dry_run:
            _remove(removals)
            size = settle(folder)
            if size != row["bytes_stored"]:
                Job.objects.filter(pk=row["id"]).update(bytes_stored=size)
                report.measured[row["id"]] = size
    if not dry_run:
        _remove([r for r in report.removed if r.why == "no job owns this folder"])
        # finished jobs whose folder is gone altogether store nothing any more
        gone = Job.objects.filter(status__in=Job.FINISHED, bytes_stored__gt=0).exclude(storage_key__in=list(owners))
        for job_id in gone.values_list("id", flat=True):
            report.measured[job_id] = 0
        gone.update(bytes_stored=0)
    return report


def sweep_if_due() -> Report | None:
    """The workers' periodic collection (every LAB_GC_SECONDS, from the reaper's thread); one
    collector at a time across workers."""
    period = settings.LAB_GC_SECONDS
    if period <= 0 or time.monotonic() < _next_sweep[0]:
        return None
    _next_sweep[0] = time.monotonic() + period
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_ID])
        if not cur.fetchone()[0]:
            return None
        try:
            report = collect()
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])
    if report.removed:
        log.warning("retention: removed %d folders (%d bytes): %s", len(report.removed), report.bytes,
                    "; ".join(f"{r.path.name} ({r.why})" for r in report.removed[:20]))
    return report


def _thin_checkpoints(folder: Path, row: dict, now) -> list[Removal]:
    keep = max(settings.LAB_RETENTION_KEEP_CHECKPOINTS, 0)
    days = settings.LAB_RETENTION_CHECKPOINT_DAYS
    expired = days > 0 and row["finished_at"] and row["finished_at"] < now - timedelta(days=days)
    why = f"finished more than {days:g} days ago" if expired else f"finished: keeps its newest {keep}"
    if expired:
        keep = 0
    units = _checkpoints(folder)
    out = [Removal(ck, folder_bytes(ck), why) for ck, _stray, _key in units[keep:]]
    for _ck, stray, _key in units[:keep]:
        out += [Removal(p, folder_bytes(p), "finished: a step its checkpoint's manifest does not name") for p in stray]
    return sorted(out, key=lambda r: str(r.path))


def _checkpoints(folder: Path) -> list[tuple[Path, list[Path], tuple]]:
    """(checkpoint folder, its parts no manifest names, sort key), newest first."""
    units = []
    for dirpath, dirnames, _files in os.walk(folder):
        here = Path(dirpath)
        if here.name != CHECKPOINT:
            continue
        dirnames.clear()  # a checkpoint's own subfolders are not checkpoint folders
        try:
            named = manifest(here)
        except (OSError, ValueError):  # a manifest is written whole (ml/durable.py); this one is not ours
            named = None
        parts = set((named or {}).get("parts", []))
        stray = sorted(p for p in here.glob("step-*") if p.name not in parts) if named else []
        units.append((here, stray, (named is not None, _mtime(here))))
    return sorted(units, key=lambda u: u[2], reverse=True)


def _mtime(path: Path) -> float:
    """The newest modification under `path` (a folder's own mtime only moves with its direct entries)."""
    newest = path.stat().st_mtime
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                newest = max(newest, os.stat(os.path.join(dirpath, f)).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def _age_seconds(folder: Path) -> float:
    st = folder.stat()
    # ctime moves on a rename too: a folder `claim_folder` just set aside is young
    return time.time() - max(_mtime(folder), st.st_ctime)


def _as_uuid(name: str):
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


def _bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else folder_bytes(path)


def _remove(removals: list[Removal]) -> None:
    for r in removals:
        remove(r.path)
