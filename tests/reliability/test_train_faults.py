"""`train` jobs under faults: killed mid-run they resume from their last checkpoint; cancelled mid-run
they stop at a step boundary and keep what they wrote, marked partial."""
from tests.reliability.http_client import (assert_whole_history, client, follow, is_progress, is_terminal,
                                         stored_events, submit)

# a small rectified flow on two moons: 200 cheap steps, a checkpoint every 25
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 200, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 10, "checkpoint_every": 25, "eval_every": 1000, "log_every": 50, "eval_samples": 64, "seed": 3}


def test_a_killed_training_resumes_from_its_last_checkpoint(lab):
    worker = lab.worker_for("gpu")
    job_id = submit(lab, TRAIN, kind="train")
    seen = follow(lab, job_id, is_progress(60))
    lab.kill_worker_child(worker)
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    assert assert_whole_history(events) == ["queued", "running", "running", "succeeded"]
    resumed = [(i, e) for i, e in enumerate(events) if e["type"] == "log" and e["data"]["text"].startswith("resumed")]
    assert len(resumed) == 1, [e["data"]["text"] for e in events if e["type"] == "log"]
    i, ev = resumed[0]
    step = int(ev["data"]["text"].split()[3].rstrip(","))
    # the checkpoint of step 50 was complete before step 51 began, and 60 steps were seen done
    assert ev["data"]["text"] == f"resumed from step {step}, attempt 2" and 50 <= step < TRAIN["steps"]
    after = [e["data"]["done"] for e in events[i:] if e["type"] == "progress"]
    assert after[0] > step and after[-1] == TRAIN["steps"]  # it went on, not back to step 1
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2


def test_a_cancelled_training_stops_and_keeps_its_artifacts_marked_partial(lab):
    lab.worker_for("gpu")
    job_id = submit(lab, {**TRAIN, "steps": 100_000, "eval_every": 20}, kind="train")
    seen = follow(lab, job_id, lambda ev: ev["type"] == "artifact")  # a preview image at step 20
    r = client(lab).post(f"/api/jobs/{job_id}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "running"
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    assert assert_whole_history(events)[-1] == "cancelled"
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "cancelled" and job["progress"] < 0.01
    arts = client(lab).get(f"/api/jobs/{job_id}/artifacts/").json()
    assert arts and all(a["partial"] for a in arts), arts
    assert any("marked partial" in e["data"]["text"] for e in events if e["type"] == "log")
