"""DELETE /api/jobs/<id>/ on jobs a real worker ran: rows and files gone, quota freed, live jobs and
the models they use refused, lineage kept; and the quota counts every byte a job leaves, checkpoints too."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from jobs.models import Artifact, Job, JobEvent
from jobs.services import stored_bytes
from jobs.storage import PARAMS_RECORD
from jobs.tasks import job_dir
from tests.helpers import job_files, submit, succeeded, wait_for_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.stores]

# a small rectified flow on two moons: seconds on a CPU, a checkpoint every 20 steps and one at the end
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 60, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 5, "checkpoint_every": 20, "eval_every": 1000, "log_every": 20,
         "eval_samples": 64, "seed": 3}
# 2000 chunks of ~1000 solver steps: minutes on a CPU, so it is still running while the test acts
LONG_SAMPLE = {"nfe": 1000, "n_samples": 200000, "batch_size": 100, "device": "cpu"}


def trained(api) -> Job:
    return succeeded(submit(api, "train", TRAIN), timeout=300)


def test_deleting_a_finished_job_removes_its_rows_events_artifacts_and_folder(api, user, celery_worker):
    job = trained(api)
    files = job_files(job)
    assert any(path.startswith("attempt-1/checkpoint/") for path in files), files
    assert JobEvent.objects.filter(job=job).count() > 5 and Artifact.objects.filter(job=job).count() >= 2
    assert stored_bytes(user) == job.bytes_stored == sum(files.values()) > 0

    r = api.delete(f"/api/jobs/{job.pk}/")
    assert r.status_code == 204, r.content
    assert not Job.objects.filter(pk=job.pk).exists()
    assert JobEvent.objects.filter(job_id=job.pk).count() == 0 and Artifact.objects.filter(job_id=job.pk).count() == 0
    assert job_files(job) == {} and not job_dir(job).exists()
    assert stored_bytes(user) == 0
    assert api.get(f"/api/jobs/{job.pk}/").status_code == 404
    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 404


def test_the_quota_counts_checkpoints_and_deleting_frees_it(api, user, celery_worker, settings):
    job = trained(api)
    artifacts = sum(Artifact.objects.filter(job=job).values_list("size", flat=True))
    files = job_files(job)
    checkpoint = sum(size for path, size in files.items() if path.startswith("attempt-1/checkpoint/"))
    # each byte once: the published artifacts, the attempt's checkpoint (the model, its EMA and Adam's
    # two moments) and the params record (on disk: the store keeps none); the attempt's own copies of the
    # artifacts are gone
    record = files.get(PARAMS_RECORD, 0)
    assert checkpoint > 0 and job.bytes_stored == sum(files.values()) == artifacts + checkpoint + record
    settings.LAB_MAX_ARTIFACT_BYTES = artifacts + 1  # the artifacts alone would fit; with the checkpoint, not
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}, format="json")
    assert r.status_code == 507, r.content
    detail = r.json()["detail"]
    assert f"store {job.bytes_stored} bytes (artifacts and checkpoints)" in detail and "delete jobs" in detail
    assert api.post(f"/api/jobs/{job.pk}/retry/").status_code == 507

    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 204
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}, format="json")
    assert r.status_code == 201, r.content
    succeeded(r.json()["id"])


def test_a_live_job_and_a_model_a_live_job_uses_are_409_and_lineage_shows_the_deleted_job(api, user, celery_worker):
    source = trained(api)
    model = Artifact.objects.get(job=source, name="model.safetensors")
    user_id = submit(api, "sample", {**LONG_SAMPLE, "model": {"artifact": model.pk}})
    wait_for_status(user_id, "running")

    r = api.delete(f"/api/jobs/{user_id}/")
    assert r.status_code == 409 and r.json()["detail"].startswith(f"job {user_id} is running"), r.content
    r = api.delete(f"/api/jobs/{source.pk}/")
    assert r.status_code == 409 and f"in use by job #{user_id} (queued or running)" in r.json()["detail"], r.content
    assert Job.objects.filter(pk__in=[source.pk, user_id]).count() == 2 and job_files(source)

    assert api.post(f"/api/jobs/{user_id}/cancel/").status_code == 202
    wait_for_status(user_id, "cancelled")
    assert api.delete(f"/api/jobs/{source.pk}/").status_code == 204

    answer = api.get(f"/api/jobs/{user_id}/").json()
    assert answer["input_artifacts"] == []
    assert answer["deleted_inputs"] == [{"job": source.pk, "job_name": "", "job_kind": "train",
                                         "artifact": model.pk, "name": "model.safetensors"}]
    listed = next(j for j in api.get("/api/jobs/").json()["results"] if j["id"] == user_id)
    assert listed["deleted_inputs"] == answer["deleted_inputs"]
    page = APIClient()
    page.force_login(user)
    html = page.get(f"/jobs/{user_id}/").content.decode()
    assert f"deleted job #{source.pk}" in html and "(model.safetensors)" in html
    # its model is gone: a retry says so instead of failing on the worker
    r = api.post(f"/api/jobs/{user_id}/retry/")
    assert r.status_code == 400 and f"no model artifact {model.pk}" in r.content.decode()


def test_another_users_job_is_404_and_stays(make_job, user, other_user):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    bob = APIClient()
    bob.force_authenticate(other_user)
    r = bob.delete(f"/api/jobs/{job.pk}/")
    assert r.status_code == 404 and r["Content-Type"] == "application/json"
    assert Job.objects.filter(pk=job.pk).exists()
