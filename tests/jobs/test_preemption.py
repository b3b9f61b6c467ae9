"""Preemption with one real worker: a `high` job stops a running `low` training at its next step,
runs first, and the training resumes from its checkpoint to the very weights of a run never stopped."""
import pytest
import torch
from rest_framework.test import APIClient
from safetensors.torch import load as load_safetensors

from jobs.models import Artifact, Job, JobEvent
from jobs.projects import Project, personal_project
from tests.helpers import succeeded, wait_for_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.filesystem]

# a small rectified flow on two moons, long enough (seconds) to be caught mid-run
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 1500, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 10, "checkpoint_every": 1000, "eval_every": 100_000, "log_every": 100,
         "eval_samples": 64, "seed": 3}
QUICK = {"sampler": "ddim", "nfe": 5, "n_samples": 100, "exact_subset": 0}


def post(api, kind, params, priority):
    r = api.post("/api/jobs/", {"kind": kind, "params": params, "priority": priority}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def weights(job_id) -> dict:
    art = Artifact.objects.get(job_id=job_id, name="model.safetensors")
    with art.file.open("rb") as f:
        return load_safetensors(f.read())


def logs(job_id) -> list[str]:
    return list(JobEvent.objects.filter(job_id=job_id, type="log").order_by("seq").values_list("data__text", flat=True))


def test_a_high_job_preempts_a_low_training_which_resumes_to_the_same_weights(celery_worker, user):
    api = APIClient()
    api.force_authenticate(user)  # admin of their personal project: may ask for high
    unpreempted = post(api, "train", TRAIN, "low")
    succeeded(unpreempted)

    low = post(api, "train", TRAIN, "low")
    wait_for_event(low, lambda e: e["type"] == "progress" and e["data"]["done"] >= 100)
    high = post(api, "sample", QUICK, "high")
    succeeded(high)
    succeeded(low)

    high_job, low_job = Job.objects.get(pk=high), Job.objects.get(pk=low)
    assert high_job.finished_at < low_job.finished_at
    texts = logs(low)
    stops = [t for t in texts if t.startswith("preempted by job")]
    assert len(stops) == 1 and stops[0].startswith(f"preempted by job {high}; resumes from step "), texts
    step = int(stops[0].rsplit(" ", 1)[1])
    assert 100 <= step < TRAIN["steps"]
    assert f"resumed from step {step}, attempt 2" in texts
    # it was queued in between and ran twice, on one attempt budget: preemption is no lost worker
    statuses = list(JobEvent.objects.filter(job_id=low, type="status").order_by("seq")
                    .values_list("data__status", flat=True))
    assert statuses == ["queued", "running", "queued", "running", "succeeded"]
    assert low_job.attempts == 2 and low_job.max_attempts == 4 and low_job.preempted_by is None
    # the checkpoint restores model, optimizer, EMA and the data generator: bit for bit the same weights
    a, b = weights(low), weights(unpreempted)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_project_that_opts_out_keeps_its_low_jobs_running(celery_worker, user):
    from jobs import scheduler

    Project.objects.filter(pk=personal_project(user).pk).update(preemptible=False)
    api = APIClient()
    api.force_authenticate(user)
    low = post(api, "train", {**TRAIN, "steps": 400}, "low")
    wait_for_event(low, lambda e: e["type"] == "progress" and e["data"]["done"] >= 50)
    high = post(api, "sample", QUICK, "high")
    scheduler.schedule()  # a pass more: still nobody to preempt
    assert Job.objects.get(pk=low).preempted_by is None
    succeeded(low)
    succeeded(high)
    assert not [t for t in logs(low) if "preempt" in t]
    assert Job.objects.get(pk=high).started_at >= Job.objects.get(pk=low).finished_at
