"""What stays on disk once jobs end, and the collector that enforces it.

- A folder under MEDIA_ROOT/jobs/ that no row owns (its job deleted while the files were being
  removed, a database reset or restore, a folder `claim_folder` set aside) is removed once it is
  older than LAB_GC_ORPHAN_GRACE_SECONDS.
- A finished job keeps its newest LAB_RETENTION_KEEP_CHECKPOINTS checkpoints, and none once it
  finished LAB_RETENTION_CHECKPOINT_DAYS ago. Queued and running jobs are never touched.
- Every finished job's `bytes_stored` is measured again, so the storage quota follows what is on disk.

Checkpoints are what the runners write under `<folder>/checkpoint/` (train: one `step-<k>/` per
checkpoint and `latest.json` naming the newest; DNA training, finetune, sample and quantize: the
folder itself is one checkpoint), wherever it sits inside the job's folder.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Job
from .storage import folder_bytes

log = logging.getLogger(__name__)
CHECKPOINT_DIR = "checkpoint"
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
        removals = _thin_checkpoints(folder, row, now)
        report.removed += removals
        if not dry_run:
            _remove(removals)
            size = folder_bytes(folder)
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
    doomed = units[keep:]
    out = []
    for ck in {u[0] for u in doomed}:
        theirs = [u[1] for u in doomed if u[0] == ck]
        if len(theirs) == sum(1 for u in units if u[0] == ck):  # all of that checkpoint folder goes
            out.append(Removal(ck, folder_bytes(ck), why))
        else:
            out += [Removal(p, folder_bytes(p), why) for p in theirs]
    return sorted(out, key=lambda r: str(r.path))


def _checkpoints(folder: Path) -> list[tuple[Path, Path, tuple]]:
    """(checkpoint folder, one checkpoint, sort key), newest first."""
    units = []
    for dirpath, dirnames, _files in os.walk(folder):
        here = Path(dirpath)
        if here.name != CHECKPOINT_DIR:
            continue
        dirnames.clear()  # a checkpoint's own subfolders are not checkpoint folders
        steps = [p for p in here.iterdir() if p.is_dir() and p.name.startswith("step-")]
        if not steps:
            units.append((here, here, (True, _mtime(here))))
            continue
        latest = _latest(here)
        units += [(here, s, (s.name == latest, _mtime(s))) for s in steps]
    return sorted(units, key=lambda u: u[2], reverse=True)


def _latest(ck: Path) -> str | None:
    try:
        return json.loads((ck / "latest.json").read_text())["folder"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


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


def _remove(removals: list[Removal]) -> None:
    for r in removals:
        shutil.rmtree(r.path, ignore_errors=True)
