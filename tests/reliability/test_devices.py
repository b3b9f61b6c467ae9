"""Admission counts devices (docs/scheduling.md): a real worker with two slots and no GPU counts two
devices; a job asking for both holds the worker, and a one-device job waits, saying so, until it ends.
A job asking for more devices than any live worker of its queue has is a 400 naming `devices`."""
import pytest

from tests.reliability.http_client import client, follow, is_progress, is_terminal
from tests.reliability.test_multinode import SMALL

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def two_slot_worker(lab):
    live = {name for name, (proc, _, _) in lab.workers.items() if proc.poll() is None}
    if live != {"d2"}:
        lab.stop_all_workers()
        lab.start_worker("d2", concurrency=2, OMP_NUM_THREADS=1)
    yield lab


def post(lab, params, **top):
    return client(lab).post("/api/jobs/", json={"kind": "train", "params": params, **top})


def test_a_two_device_job_holds_a_two_slot_worker_and_more_devices_than_any_worker_is_a_400(two_slot_worker):
    lab = two_slot_worker
    quick = {**SMALL, "steps": 10, "log_every": 10, "checkpoint_every": 100000}
    for bad in (3, 0, "two"):
        r = post(lab, quick, devices=bad)
        assert r.status_code == 400 and list(r.json()) == ["devices"], r.text
    assert "the live workers of queue cpu have at most 2" in post(lab, quick, devices=3).json()["devices"][0]

    r = post(lab, {**SMALL, "steps": 100000, "log_every": 10, "checkpoint_every": 100000}, devices=2)
    assert r.status_code == 201, r.text
    big = r.json()["id"]
    follow(lab, big, is_progress(10), timeout=120)
    r = post(lab, quick)  # one device: the worker has a free slot, but no free device
    assert r.status_code == 201, r.text
    small = r.json()["id"]
    job = client(lab).get(f"/api/jobs/{small}/").json()
    assert job["status"] == "queued"
    assert job["waiting_reason"] == "waiting for a worker on queue cpu with 1 free device"
    assert client(lab).post(f"/api/jobs/{big}/cancel/").status_code == 202
    follow(lab, small, is_terminal, timeout=120)
    assert client(lab).get(f"/api/jobs/{small}/").json()["status"] == "succeeded"
