"""`manage.py lab_gc` (jobs/retention.py) on folders a real worker wrote: orphans go, finished jobs keep
their newest checkpoint, expired ones none, --dry-run removes nothing, bytes_stored follows the disk.
Checkpoints are ml/checkpoint.py's (a manifest naming a step's parts), made here by ml.checkpoint.save."""
from __future__ import annotations

import io
import os
import shutil
import time
import uuid
from datetime import timedelta

from pathlib import Path

import pytest
import torch
from django.core.management import call_command
from django.utils import timezone

from jobs.models import Artifact, Job
from jobs.storage import attempt_folder, folder_bytes
from jobs.tasks import job_dir
from ml import checkpoint
from tests.api.test_delete import TRAIN
from tests.helpers import submit, succeeded

# the collector of MEDIA_ROOT; the object store's is tests/storage/test_store_lifecycle.py
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.filesystem]


def lab_gc(*args) -> str:
    out = io.StringIO()
    call_command("lab_gc", *args, stdout=out)
    return out.getvalue()


def save_checkpoint(folder: Path, step: int, numel: int = 1000) -> None:
    checkpoint.save(folder, step, {"w": torch.full((numel,), float(step))}, {"step": step})


def age(path: Path, seconds: float) -> None:
    """Make everything under `path` look written `seconds` ago (retention orders checkpoints by mtime)."""
    then = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (then, then))


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def test_lab_gc_removes_orphans_and_thins_a_finished_jobs_checkpoints_and_dry_run_removes_nothing(
        api, celery_worker, settings):
    root = Path(settings.MEDIA_ROOT) / "jobs"
    # folders of earlier tests' jobs: the database was flushed since, so no row owns them either
    earlier = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    earlier_bytes = sum(folder_bytes(p) for p in earlier)
    job = succeeded(submit(api, "train", TRAIN), timeout=300)
    folder = job_dir(job)
    ckpt = attempt_folder(folder, 1) / "checkpoint"
    assert ckpt.is_dir()
    shutil.rmtree(ckpt)  # the runner's own, whichever format it writes: replaced by one of ml/checkpoint.py's
    save_checkpoint(ckpt, 40)
    save_checkpoint(ckpt, 60)
    assert checkpoint.manifest(ckpt) == {"step": 60, "parts": ["step-60"]}
    # an attempt killed between writing its new manifest and removing the old step leaves both
    shutil.copytree(ckpt / "step-60", ckpt / "step-40")
    leftover = folder_bytes(ckpt / "step-40")
    why = "finished: a step its checkpoint's manifest does not name"
    orphan = root / str(uuid.uuid4())  # no row owns it: a deleted or reset database's
    (orphan / "checkpoint").mkdir(parents=True)
    (orphan / "checkpoint" / "state.safetensors").write_bytes(b"x" * 5000)

    young = lab_gc("--dry-run")  # the orphan is younger than the grace period: it stays even in the plan
    assert orphan.name not in young and f"would remove {folder.name}/attempt-1/checkpoint/step-40 ({leftover} bytes): {why}" in young

    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 0
    before = snapshot(root)
    plan = lab_gc("--dry-run")
    assert f"would remove {orphan.name} (5000 bytes): no job owns this folder" in plan
    assert f"would remove {folder.name}/attempt-1/checkpoint/step-40 ({leftover} bytes): {why}" in plan
    assert f"would remove {2 + len(earlier)} folders, {5000 + leftover + earlier_bytes} bytes" in plan
    assert snapshot(root) == before
    stored = folder_bytes(folder) - leftover

    done = lab_gc()
    assert f"removed {2 + len(earlier)} folders, {5000 + leftover + earlier_bytes} bytes" in done
    assert not orphan.exists() and not (ckpt / "step-40").exists()
    assert checkpoint.load(ckpt).step == 60 and sorted(p.name for p in ckpt.iterdir()) == ["manifest.json", "step-60"]
    job.refresh_from_db()
    # the worker measured the folder before its checkpoint was replaced; now it is measured again
    assert job.bytes_stored == folder_bytes(folder) == stored
    assert "removed 0 folders, 0 bytes" in lab_gc()

    # past the age limit a finished job keeps no checkpoint at all, and its artifacts all
    settings.LAB_RETENTION_CHECKPOINT_DAYS = 7
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=8))
    gone = folder_bytes(ckpt)
    assert f"removed {folder.name}/attempt-1/checkpoint ({gone} bytes): finished more than 7 days ago" in lab_gc()
    assert not ckpt.exists()
    for art in Artifact.objects.filter(job=job):
        assert (Path(settings.MEDIA_ROOT) / art.file.name).stat().st_size == art.size
    job.refresh_from_db()
    assert job.bytes_stored == folder_bytes(folder) == stored - gone


def test_lab_gc_never_touches_a_queued_jobs_folder(make_job):
    job = make_job(kind="train", params=TRAIN)
    for attempt in (1, 2):
        save_checkpoint(attempt_folder(job_dir(job), attempt) / "checkpoint", 20 * attempt)
    (attempt_folder(job_dir(job), 1) / "samples.npy").write_bytes(b"x" * 100)
    before = snapshot(job_dir(job))
    assert "removed 0 folders" in lab_gc()  # two checkpoints and a runner's file, where a finished job keeps one
    assert snapshot(job_dir(job)) == before


def test_a_finished_job_keeps_its_newest_attempts_checkpoint_and_no_attempts_other_files(make_job):
    """A job that ended before its worker settled its folder (one a worker lost): the collector does it."""
    job = make_job(kind="train", params=TRAIN)
    folder = job_dir(job)
    old, new = (attempt_folder(folder, k) / "checkpoint" for k in (1, 2))
    save_checkpoint(old, 40)
    age(old, 100)
    save_checkpoint(new, 60)
    copy = attempt_folder(folder, 2) / "model.safetensors"
    copy.write_bytes(b"m" * 3000)
    (folder / "model.safetensors").write_bytes(b"m" * 3000)  # the published copy, the one that counts
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, finished_at=timezone.now())

    out = lab_gc()
    assert f"removed {folder.name}/attempt-2/model.safetensors (3000 bytes): the job ended: an attempt keeps only its checkpoint" in out
    assert f"removed {folder.name}/attempt-1/checkpoint (" in out and "finished: keeps its newest 1" in out
    assert not old.exists() and not copy.exists() and checkpoint.load(new).step == 60
    job.refresh_from_db()
    assert job.bytes_stored == folder_bytes(folder) == 3000 + folder_bytes(new)
