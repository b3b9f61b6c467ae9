"""Fencing: an attempt the reaper gave up on (its worker paused past the stale limit) writes nothing
once another attempt holds the job, and stops at its next step; the job keeps one history."""
import hashlib
import os
import signal
from datetime import datetime

import pytest

from jobs.storage import PARAMS_RECORD
from tests.reliability.http_client import (assert_whole_history, client, follow, is_progress, is_terminal,
                                         stored_events, submit)

# a small rectified flow on two moons, ~30 s on the 2-core box: long enough to pause one attempt
# mid-run and let a second one finish; a checkpoint every 25 steps, a preview image every 100
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 400, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 10, "checkpoint_every": 25, "eval_every": 100, "log_every": 50,
         "eval_samples": 64, "seed": 3}
# small, so the pause is noticed in seconds; not below the ~2 s beat gaps seen while a child imports torch
STALE_SECONDS = 5


def is_status(status):
    return lambda ev: ev["type"] == "status" and ev["data"]["status"] == status


@pytest.fixture
def own_workers(lab):
    """Only this test's workers, and none of them left behind: their stale limit is the test's."""
    lab.stop_all_workers()
    yield lab
    lab.stop_all_workers()


# reads the job's folder; with a store each attempt uploads under its own key (jobs/transfer.py)
@pytest.mark.filesystem
def test_a_paused_attempt_is_fenced_out_and_writes_nothing_after_another_took_the_job(own_workers):
    lab = own_workers
    knobs = {"LAB_WORKER_STALE_SECONDS": STALE_SECONDS}
    _, paused_out = lab.start_worker("paused", **knobs)
    job_id = submit(lab, TRAIN, kind="train")
    seen = follow(lab, job_id, is_progress(60))
    child = lab.worker_child("paused")
    child.send_signal(signal.SIGSTOP)  # a worker frozen (a VM paused, a network split): it beats no more
    try:
        # the paused worker's main process still sweeps: it requeues the job, and another worker takes it
        seen += follow(lab, job_id, is_status("queued"), after=seen[-1]["seq"], timeout=60)
        lab.start_worker("second", **knobs)
        follow(lab, job_id, is_terminal, after=seen[-1]["seq"], timeout=240)
    finally:
        child.send_signal(signal.SIGCONT)
    # attempt 1 runs on from where it froze, until its task returns
    paused_out.wait_for("] received", timeout=30)  # Celery's line of the message's arrival, long ago
    paused_out.wait_for("Task jobs.run_job[", timeout=300)  # and of the task's end (succeeded or raised)

    events = stored_events(lab, job_id)
    # one history: seq 1, 2, 3... and the final status last, nothing of attempt 1 after it
    assert assert_whole_history(events) == ["queued", "running", "queued", "running", "succeeded"]
    texts = [e["data"]["text"] for e in events if e["type"] == "log"]
    assert any("stopped beating" in t and "attempt 2 of 2" in t for t in texts), texts
    resumed = [t for t in texts if t.startswith("resumed from step")]
    # attempt 2 found attempt 1's last checkpoint (it froze past step 60: the one of step 50 at least)
    assert len(resumed) == 1 and resumed[0].endswith("attempt 2") and int(resumed[0].split()[3].rstrip(",")) >= 50
    assert "attempt 1 no longer holds the job" in "".join(paused_out.lines)
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["worker"].startswith("second@")
    assert job["result"]["steps"] == TRAIN["steps"] and job["result"]["resumed_from"] >= 50

    # the job's folder holds the published files, each the one its row describes, none written after
    # the job ended (attempt 1 woke after that); each attempt's work stays in its own folder
    arts = {a["name"]: a for a in client(lab).get(f"/api/jobs/{job_id}/artifacts/").json()}
    folder = lab.job_folder(job_id)
    published = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
                 if p.is_file() and not p.relative_to(folder).parts[0].startswith("attempt-")
                 and p.name != PARAMS_RECORD}  # the folder's own record of the params it was made for
    assert set(published) == set(arts) and {"model.safetensors", "model.json", "preview_step100.png"} <= set(arts)
    finished = datetime.fromisoformat(job["finished_at"]).timestamp()
    for name, path in published.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == arts[name]["sha256"], name
        assert path.stat().st_mtime <= finished, f"{name} was written after the job ended"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["attempt-1", "attempt-2"]
    assert not (folder / "attempt-1" / "model.safetensors").exists()  # attempt 1 stopped before its end
    assert os.listdir(folder / "attempt-2" / "checkpoint")
