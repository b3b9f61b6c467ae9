"""A worker dies mid-job (SIGKILL, for real): the job runs again and finishes exactly once.

Two ways to die: the pool process alone (an OOM kill; the worker's main process sees it and
requeues the unacked message, acks_late + reject_on_worker_lost), and the whole worker (a
machine lost; nobody requeues, the reaper of another worker finds the stale heartbeat).
`sample` jobs restart from scratch on the next attempt; checkpointing kinds resume.
"""
import io

import numpy as np

from tests.reliability.http_client import (assert_whole_history, client, follow, is_progress, is_terminal,
                                         stored_events, submit)

# ~100 solver steps: long enough to be killed in the middle, short enough to run three times
PARAMS = {"sampler": "ddim", "nfe": 100, "n_samples": 1000, "exact_subset": 0, "seed": 7}


def logs(events):
    return [e["data"]["text"] for e in events if e["type"] == "log"]


def test_pool_process_killed_the_job_is_redelivered_and_finishes_once(lab):
    worker = lab.worker_for("gpu")  # PARAMS' device is "auto": the gpu queue
    job_id = submit(lab, PARAMS)
    seen = follow(lab, job_id, is_progress(5))
    lab.kill_worker_child(worker)
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    statuses = assert_whole_history(events)
    assert statuses == ["queued", "running", "running", "succeeded"]
    assert any("attempt 2 of 2" in t and "previous worker was lost" in t for t in logs(events))
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["result"]["nfe_used"] == 100
    # the output of the one attempt that finished, once: same seed, so identical to an undisturbed run
    arts = client(lab).get(f"/api/jobs/{job_id}/artifacts/").json()
    assert sorted(a["name"] for a in arts) == ["samples.npy", "samples.png"]
    samples = np.load(io.BytesIO(client(lab).get(next(a["url"] for a in arts if a["name"] == "samples.npy")).content))
    assert samples.shape == (1000, 2) and np.isfinite(samples).all()


def test_whole_worker_killed_the_reaper_moves_the_job_to_another_worker(lab):
    lost = lab.worker_for("gpu")
    job_id = submit(lab, PARAMS)
    seen = follow(lab, job_id, is_progress(5))
    lab.kill_worker(lost)  # main process and pool: its message stays unacked in the broker
    lab.start_worker("w2")
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    statuses = assert_whole_history(events)
    # running on w1, requeued by the reaper, running on w2, done
    assert statuses == ["queued", "running", "queued", "running", "succeeded"]
    text = logs(events)
    assert any(f"worker {lost}@" in t and "stopped beating" in t and "attempt 2 of 2" in t for t in text), text
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["worker"].startswith("w2@")


def test_a_job_whose_worker_dies_every_time_fails_with_the_reason_after_max_attempts(lab):
    worker = lab.worker_for("gpu")
    job_id = submit(lab, PARAMS)
    seen = follow(lab, job_id, is_progress(5))
    lab.kill_worker_child(worker)
    seen = follow(lab, job_id, progress_of_attempt(2, 5), after=seen[-1]["seq"])
    lab.kill_worker_child(worker)  # the lab allows 2 attempts: this was the last
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    statuses = assert_whole_history(events)
    assert statuses == ["queued", "running", "running", "failed"]
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "failed" and job["attempts"] == 2
    assert "gave up after 2 attempts" in job["error"] and events[-1]["data"]["error"] == job["error"]


def progress_of_attempt(attempt, min_done):
    """Accepts the first progress event at or past `min_done` after the log line opening `attempt`."""
    started = []

    def until(ev):
        if ev["type"] == "log" and f"attempt {attempt} of" in ev["data"]["text"]:
            started.append(ev)
        return bool(started) and ev["type"] == "progress" and ev["data"]["done"] >= min_done

    return until
