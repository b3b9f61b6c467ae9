"""A diverging training ends `failed` on its first attempt, saying at which step, and keeps its last finite
checkpoint; a result holding NaN or inf is stored with nulls and a note. Neither is retried as a database
outage, so the reaper (on in this lab: 10 s without heartbeat) never sees them."""
import re
from datetime import datetime

import pytest
import torch
from safetensors.torch import load_file

from tests.reliability.conftest import WORKER_KNOBS
from tests.reliability.http_client import assert_whole_history, client, follow, is_terminal, stored_events, submit

# the job: lr 1.0 and weight decay 10 on moons; small, so it diverges within a second
DIVERGING = {"data": {"type": "moons"}, "lr": 1.0, "weight_decay": 10, "steps": 200, "width": 16, "depth": 1,
             "batch_size": 32, "warmup_steps": 0, "checkpoint_every": 1, "log_every": 1, "eval_every": 1000,
             "eval_samples": 16, "ref_nfe": 10}


def _seconds(job, start, end):
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


@pytest.mark.filesystem  # reads the checkpoint from the worker's folder
def test_a_diverging_training_fails_on_attempt_1_naming_the_step_and_keeps_a_finite_checkpoint(lab):
    lab.worker_for("gpu")
    job_id = submit(lab, DIVERGING, kind="train")
    follow(lab, job_id, is_terminal, timeout=60)

    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "failed" and job["attempts"] == 1, job
    m = re.fullmatch(r"diverged: loss is (nan|inf) at step (\d+)", job["error"])
    assert m, job["error"]  # the researcher's sentence, no exception name or traceback
    k = int(m.group(2))
    assert _seconds(job, "started_at", "finished_at") < WORKER_KNOBS["LAB_WORKER_STALE_SECONDS"]
    events = stored_events(lab, job_id)
    assert assert_whole_history(events) == ["queued", "running", "failed"]
    assert any(e["type"] == "log" and e["data"]["text"] == job["error"] for e in events)

    folder = lab.job_folder(job_id) / "attempt-1" / "checkpoint"
    latest = sorted(folder.glob("step-*"))
    assert [p.name for p in latest] == [f"step-{k - 1}"]  # a checkpoint after every finite step, the last kept
    tensors = load_file(str(latest[0] / "tensors.safetensors"))
    assert all(torch.isfinite(t).all() for name, t in tensors.items() if not name.startswith("rng."))


def test_a_result_holding_inf_is_stored_with_nulls_and_a_note(lab):
    lab.worker_for("gpu")
    # stopped after 3 steps, before the loss overflows: the training succeeds, its evaluation's errors are inf
    job_id = submit(lab, {**DIVERGING, "steps": 3}, kind="train")
    follow(lab, job_id, is_terminal, timeout=60)

    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["error"] == "", job
    result = job["result"]
    assert result["non_finite"] and all(p.startswith("eval.") for p in result["non_finite"]), result
    for path in result["non_finite"]:
        assert result["eval"][path.removeprefix("eval.")] is None
    assert isinstance(result["eval"]["sw_floor"], float)  # finite values stay as they were
    assert _seconds(job, "started_at", "finished_at") < WORKER_KNOBS["LAB_WORKER_STALE_SECONDS"]


def test_a_final_write_the_database_refuses_fails_the_job_on_attempt_1_with_the_reason(lab):
    import psycopg

    lab.worker_for("gpu")
    # the database itself refuses one job's `succeeded` row (SQLSTATE 22000, a data exception), as it refuses
    # a NaN in jsonb: no retry can fix that, and the reaper must not be left to rerun the job
    refuse = """
        CREATE OR REPLACE FUNCTION refuse_success() RETURNS trigger AS $$
        BEGIN RAISE EXCEPTION 'this row is refused' USING ERRCODE = '22000'; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER refuse_success BEFORE UPDATE ON jobs_job FOR EACH ROW
        WHEN (NEW.status = 'succeeded' AND NEW.params->>'seed' = '424242') EXECUTE FUNCTION refuse_success();
    """
    with psycopg.connect(lab.pg.url, autocommit=True) as conn:
        conn.execute(refuse)
    try:
        job_id = submit(lab, {**DIVERGING, "steps": 2, "lr": 1e-3, "weight_decay": 0, "seed": 424242}, kind="train")
        follow(lab, job_id, is_terminal, timeout=60)
    finally:
        with psycopg.connect(lab.pg.url, autocommit=True) as conn:
            conn.execute("DROP TRIGGER refuse_success ON jobs_job; DROP FUNCTION refuse_success()")

    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "failed" and job["attempts"] == 1 and job["result"] is None, job
    assert job["error"] == "the job's result could not be stored (DataError: this row is refused)"
    assert assert_whole_history(stored_events(lab, job_id)) == ["queued", "running", "failed"]
    assert _seconds(job, "started_at", "finished_at") < WORKER_KNOBS["LAB_WORKER_STALE_SECONDS"]
