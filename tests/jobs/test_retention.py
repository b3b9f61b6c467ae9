"""`manage.py lab_gc` (jobs/retention.py) on folders a real worker wrote: orphans go, finished jobs keep
their newest checkpoint, expired ones none, --dry-run removes nothing, bytes_stored follows the disk."""
from __future__ import annotations

import io
import shutil
import uuid
from datetime import timedelta

from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs.models import Artifact, Job
from jobs.storage import folder_bytes
from jobs.reporter import attempt_folder
from jobs.tasks import job_dir
from tests.api.test_delete import TRAIN
from tests.helpers import submit, succeeded

pytestmark = pytest.mark.django_db(transaction=True)


def lab_gc(*args) -> str:
    out = io.StringIO()
    call_command("lab_gc", *args, stdout=out)
    return out.getvalue()


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
    assert [p.name for p in ckpt.glob("step-*")] == ["step-60"]
    # an attempt killed between writing its new checkpoint and removing the old one leaves both
    shutil.copytree(ckpt / "step-60", ckpt / "step-40")
    leftover = folder_bytes(ckpt / "step-40")
    orphan = root / str(uuid.uuid4())  # no row owns it: a deleted or reset database's
    (orphan / "checkpoint").mkdir(parents=True)
    (orphan / "checkpoint" / "state.safetensors").write_bytes(b"x" * 5000)

    young = lab_gc("--dry-run")  # the orphan is younger than the grace period: it stays even in the plan
    assert orphan.name not in young and f"would remove {folder.name}/attempt-1/checkpoint/step-40 ({leftover} bytes)" in young

    settings.LAB_GC_ORPHAN_GRACE_SECONDS = 0
    before = snapshot(root)
    plan = lab_gc("--dry-run")
    assert f"would remove {orphan.name} (5000 bytes): no job owns this folder" in plan
    assert f"would remove {folder.name}/attempt-1/checkpoint/step-40 ({leftover} bytes): finished: keeps its newest 1" in plan
    assert f"would remove {2 + len(earlier)} folders, {5000 + leftover + earlier_bytes} bytes" in plan
    assert snapshot(root) == before
    job.refresh_from_db()
    stored = job.bytes_stored

    done = lab_gc()
    assert f"removed {2 + len(earlier)} folders, {5000 + leftover + earlier_bytes} bytes" in done
    assert not orphan.exists() and not (ckpt / "step-40").exists()
    assert (ckpt / "step-60" / "state.safetensors").is_file() and (ckpt / "latest.json").is_file()
    job.refresh_from_db()
    # the worker measured the folder before the leftover was made; now it is measured again
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
    ckpt = attempt_folder(job_dir(job), 1) / "checkpoint"
    for step in (20, 40):
        (ckpt / f"step-{step}").mkdir(parents=True)
        (ckpt / f"step-{step}" / "state.safetensors").write_bytes(b"x" * 100)
    assert "removed 0 folders" in lab_gc()  # two checkpoints, where a finished job keeps one
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-20", "step-40"]
