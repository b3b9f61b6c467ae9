"""Job folders under a reset database, a row whose params changed under its folder, and the workers' own
garbage collection: a job resumes only from a folder that is its own."""
from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from tests.reliability.http_client import (assert_whole_history, client, follow, is_progress, is_terminal,
                                         stored_events, submit)
from tests.reliability.test_train_faults import TRAIN
from tests.procs import stop

JOB_TABLES = "jobs_job_input_artifacts, jobs_artifact, jobs_jobevent, jobs_job"


def sql(lab, statement, args=()):
    with psycopg.connect(lab.pg.url, autocommit=True) as conn:
        return conn.execute(statement, args)


def reset_jobs(lab):
    """What a database reset (or a restored older backup) does to ids: they start again at 1."""
    sql(lab, f"TRUNCATE {JOB_TABLES} RESTART IDENTITY CASCADE")


def logs(events):
    return [e["data"]["text"] for e in events if e["type"] == "log"]


@pytest.mark.filesystem  # counts MEDIA_ROOT's folders; with a store a worker keeps none once a job ends
def test_a_reset_database_never_resumes_an_old_jobs_folder(lab):
    lab.worker_for("gpu")
    reset_jobs(lab)
    first = submit(lab, TRAIN, kind="train")
    follow(lab, first, is_terminal)
    assert client(lab).get(f"/api/jobs/{first}/").json()["status"] == "succeeded"
    old_folders = {p.name for p in (lab.media / "jobs").iterdir()}

    reset_jobs(lab)
    again = submit(lab, TRAIN, kind="train")
    assert again == first == 1  # the new job got the old one's id
    follow(lab, again, is_terminal)
    events = stored_events(lab, again)
    assert assert_whole_history(events) == ["queued", "running", "succeeded"]
    assert not [t for t in logs(events) if "resumed" in t], logs(events)
    assert [e["data"]["done"] for e in events if e["type"] == "progress"][-1] == TRAIN["steps"]
    job = client(lab).get(f"/api/jobs/{again}/").json()
    assert job["result"]["resumed_from"] is None and job["attempts"] == 1
    assert {p.name for p in (lab.media / "jobs").iterdir()} - old_folders  # a folder of its own


@pytest.mark.filesystem  # it checks the folder set aside in MEDIA_ROOT, which workers on a store do not share
def test_a_folder_written_for_other_params_is_not_resumed(lab):
    lab.stop_all_workers()
    worker = lab.worker_for("gpu")
    job_id = submit(lab, TRAIN, kind="train")
    seen = follow(lab, job_id, is_progress(60))  # the checkpoint of step 50 is on disk
    lab.kill_worker(worker)  # the whole worker: the job stays `running` until a reaper notices
    # the row now differs from what its folder was written for (a row restored from another backup)
    sql(lab, "UPDATE jobs_job SET params = params || '{\"seed\": 4}'::jsonb WHERE id = %s", [job_id])

    lab.worker_for("gpu")  # its reaper requeues the job after 10 s of silence
    follow(lab, job_id, is_terminal, after=seen[-1]["seq"], timeout=180)
    events = stored_events(lab, job_id)
    assert assert_whole_history(events) == ["queued", "running", "queued", "running", "succeeded"]
    texts = logs(events)
    assert not [t for t in texts if t.startswith("resumed")], texts
    fresh = [t for t in texts if "starting fresh" in t]
    assert len(fresh) == 1 and fresh[0].startswith("the job's folder was written for other params (hash "), texts
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 2 and job["result"]["resumed_from"] is None
    aside = [p for p in (lab.media / "jobs").iterdir() if ".stale-" in p.name]
    assert len(aside) == 1 and any((aside[0] / "attempt-1" / "checkpoint").iterdir())  # set aside, not destroyed


@pytest.mark.filesystem  # the store's sweep: tests/storage/test_store_lifecycle.py
def test_the_workers_sweep_removes_orphaned_folders(lab):
    orphan = Path(lab.media) / "jobs" / str(uuid.uuid4())
    (orphan / "checkpoint").mkdir(parents=True)
    (orphan / "checkpoint" / "state.safetensors").write_bytes(b"x" * 4096)
    name = "w-gc"
    _, out = lab.start_worker(name, LAB_GC_SECONDS=1, LAB_GC_ORPHAN_GRACE_SECONDS=0)
    try:
        line = out.wait_for("retention: removed", timeout=60)
        assert "no job owns this folder" in line, line
        assert not orphan.exists()
    finally:
        stop(lab.workers.pop(name)[0])
