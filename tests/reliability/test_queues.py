"""Two workers on different queues: jobs route by kind and `device`; a job whose queue has no
worker says so and starts when one appears; a queued job cancelled meanwhile never runs."""
from tests.reliability.http_client import (assert_whole_history, client, follow, is_terminal, stored_events, submit,
                                           workers_until)

QUICK = {"sampler": "ddim", "nfe": 5, "n_samples": 100, "exact_subset": 0}


def test_routing_waiting_reason_and_cancel_of_a_queued_job(lab):
    http = client(lab)
    lab.stop_all_workers()  # only the two this test starts
    # and none an earlier test killed: its record says "gpu" until it is stale
    workers_until(lab, lambda rows: not any("gpu" in w["queues"] for w in rows), "no worker on gpu")
    lab.start_worker("cpu1", queues="cpu")
    on_cpu = submit(lab, {**QUICK, "device": "cpu"})
    never = submit(lab, QUICK)  # device "auto": the gpu queue, which nobody serves yet
    on_gpu = submit(lab, QUICK)
    assert follow(lab, on_cpu, is_terminal)[-1]["data"]["status"] == "succeeded"
    job = http.get(f"/api/jobs/{on_cpu}/").json()
    assert job["queue"] == "cpu" and job["worker"].startswith("cpu1@")

    waiting = http.get(f"/api/jobs/{on_gpu}/").json()
    assert waiting["status"] == "queued" and waiting["queue"] == "gpu"
    assert waiting["waiting_reason"] == "waiting: no worker on queue gpu"
    listed = {j["id"]: j for j in http.get("/api/jobs/?status=queued").json()["results"]}
    assert listed[on_gpu]["waiting_reason"] == "waiting: no worker on queue gpu"

    r = http.post(f"/api/jobs/{never}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"

    lab.start_worker("gpu1", queues="gpu")
    assert follow(lab, on_gpu, is_terminal)[-1]["data"]["status"] == "succeeded"
    job = http.get(f"/api/jobs/{on_gpu}/").json()
    assert job["worker"].startswith("gpu1@") and job["waiting_reason"] is None
    # the broker's queue is first in, first out and the worker runs one job at a time: the cancelled
    # job's message was taken before on_gpu's, and it found the job finished
    events = stored_events(lab, never)
    assert assert_whole_history(events) == ["queued", "cancelled"]
    cancelled = http.get(f"/api/jobs/{never}/").json()
    assert cancelled["attempts"] == 0 and cancelled["started_at"] is None
