"""Admission reserves a multi-node training's nodes (docs/scheduling.md, docs/multinode.md): with two real
workers (127.0.0.1, 127.0.0.2), two 2-node jobs submitted at once run one after the other, each on both
workers; while one runs, a single-slot job waits naming the reservation. Before reservations both jobs
were claimed at once, each waited for the other's worker, and both failed after LAB_NODE_JOIN_SECONDS:
the join wait here is short, so that behaviour fails these tests within seconds, not minutes."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability.http_client import client, follow, is_progress, is_terminal, stored_events, submit
from tests.reliability.test_multinode import SMALL, logs

KNOBS = {"LAB_NODE_JOIN_SECONDS": 20, "LAB_COLLECTIVE_TIMEOUT_SECONDS": 30, "OMP_NUM_THREADS": 1}
pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def reserved_pair(lab):
    """Only these two workers live, one slot each (another test's workers would be reserved too)."""
    live = {name for name, (proc, _, _) in lab.workers.items() if proc.poll() is None}
    if live != {"r1", "r2"}:
        lab.stop_all_workers()
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(lab.start_worker, name, LAB_NODE_ADDRESS=addr, **KNOBS)
                      for name, addr in (("r1", "127.0.0.1"), ("r2", "127.0.0.2"))]:
                f.result()
    yield lab


def nodes_line(lab, job_id):
    return [t for t in logs(stored_events(lab, job_id)) if t.startswith("2 nodes, 1 process(es) each: ")]


def test_two_two_node_jobs_submitted_at_once_on_two_workers_run_one_after_the_other(reserved_pair):
    lab = reserved_pair
    params = {**SMALL, "steps": 30, "log_every": 10, "checkpoint_every": 100000, "world_size": 2, "nodes": 2}
    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(lambda _: submit(lab, params, kind="train"), range(2)))
    for job_id in ids:
        follow(lab, job_id, is_terminal, timeout=120)
    jobs = [client(lab).get(f"/api/jobs/{i}/").json() for i in ids]
    for job in jobs:
        assert job["status"] == "succeeded", job["error"]
        assert job["attempts"] == 1
        line = nodes_line(lab, job["id"])
        # node 0 is the worker that claimed it, node 1 the other one: both reserved, no one else invited
        assert len(line) == 1 and line[0].startswith(f"2 nodes, 1 process(es) each: node 0 {job['worker']}, node 1 ")
        assert {part.split()[2].split("@")[0] for part in line[0].split(": ", 1)[1].split(", ")} == {"r1", "r2"}
    first, second = sorted(jobs, key=lambda j: j["started_at"])
    assert second["started_at"] >= first["finished_at"]  # one after the other (ISO times of one clock)


def test_a_single_slot_job_waits_naming_the_reservation_of_a_running_two_node_job(reserved_pair):
    lab = reserved_pair
    big = submit(lab, {**SMALL, "steps": 100000, "log_every": 10, "checkpoint_every": 100000, "world_size": 2,
                       "nodes": 2}, kind="train")
    follow(lab, big, is_progress(10), timeout=120)  # running on both workers
    small = submit(lab, {**SMALL, "steps": 10, "log_every": 10, "checkpoint_every": 100000}, kind="train")
    job = client(lab).get(f"/api/jobs/{small}/").json()
    assert job["status"] == "queued"
    assert job["waiting_reason"] == (f"waiting for a worker on queue {job['queue']}: slots reserved by "
                                     f"multi-node job {big} (2 nodes)")
    assert client(lab).post(f"/api/jobs/{big}/cancel/").status_code == 202
    follow(lab, small, is_terminal, timeout=120)  # the reservation ends with the job: the slot is free
    job = client(lab).get(f"/api/jobs/{small}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert client(lab).get(f"/api/jobs/{big}/").json()["status"] == "cancelled"
