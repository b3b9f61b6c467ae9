"""Migration 0002: existing jobs get distinct storage keys and their folders move from jobs/<id>/ to
jobs/<key>/, artifact paths with them; running it back moves them home."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import migrate

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE, AFTER = [("jobs", "0001_initial")], [("jobs", "0002_storage_key")]



def test_existing_folders_move_to_distinct_keys_and_back(user):
    root = Path(settings.MEDIA_ROOT) / "jobs"
    old = migrate(BEFORE)
    Job, Artifact = old.get_model("jobs", "Job"), old.get_model("jobs", "Artifact")
    jobs = [Job.objects.create(owner_id=user.pk, kind="train", status="succeeded") for _ in range(3)]
    for job in jobs[:2]:  # the third never wrote a folder
        (root / str(job.pk) / "checkpoint").mkdir(parents=True, exist_ok=True)
        (root / str(job.pk) / "checkpoint" / "state.safetensors").write_bytes(b"w" * (100 + job.pk))
        (root / str(job.pk) / "model.safetensors").write_bytes(b"m" * 10)
        Artifact.objects.create(job_id=job.pk, name="model.safetensors", kind="model", size=10, sha256="0" * 64,
                                file=f"jobs/{job.pk}/model.safetensors")
    try:
        new = migrate(AFTER)
        rows = {j.pk: j for j in new.get_model("jobs", "Job").objects.filter(pk__in=[j.pk for j in jobs])}
        assert len({r.storage_key for r in rows.values()}) == 3
        for job in jobs[:2]:
            row = rows[job.pk]
            assert not (root / str(job.pk)).exists()
            assert (root / str(row.storage_key) / "checkpoint" / "state.safetensors").stat().st_size == 100 + job.pk
            assert row.bytes_stored == 100 + job.pk + 10
            art = new.get_model("jobs", "Artifact").objects.get(job_id=job.pk)
            assert art.file.name == f"jobs/{row.storage_key}/model.safetensors"
            assert (Path(settings.MEDIA_ROOT) / art.file.name).read_bytes() == b"m" * 10
        assert rows[jobs[2].pk].bytes_stored == 0

        migrate(BEFORE)
        for job in jobs[:2]:
            assert (root / str(job.pk) / "model.safetensors").is_file()
            assert Artifact.objects.get(job_id=job.pk).file.name == f"jobs/{job.pk}/model.safetensors"
    finally:
        migrate()
