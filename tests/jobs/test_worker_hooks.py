"""jobs/worker_hooks.py: a job in a pool process of a real worker may start processes of its own."""
import pytest
from rest_framework.test import APIClient

from tests.helpers import succeeded

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]


def test_a_2_process_training_runs_in_a_pool_process(celery_worker, user):
    # rank 1 is a spawned child of the pool process (ml/train/ddp.py): a daemonic billiard process,
    # left as it is, refuses to start it ("daemonic processes are not allowed to have children")
    api = APIClient()
    api.force_authenticate(user)
    params = {"data": {"type": "moons"}, "objective": "rectified_flow", "batch_size": 64, "width": 16, "depth": 1,
              "steps": 10, "log_every": 10, "warmup_steps": 5, "eval_every": 100000, "eval_samples": 64,
              "ref_nfe": 10, "seed": 5, "device": "cpu", "world_size": 2}
    r = api.post("/api/jobs/", {"kind": "train", "params": params}, format="json")
    assert r.status_code == 201, r.content
    job = succeeded(r.json()["id"])
    assert job.result["world_size"] == 2
