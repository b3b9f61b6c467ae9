"""The outbox: a job stored while its message cannot reach a worker (the broker down at submit, the
database down when the message arrives) still runs, once, with nobody touching it."""
from tests.reliability.http_client import (assert_whole_history, client, follow, is_terminal, stored_events, submit,
                                           workers_until)

QUICK = {"sampler": "ddim", "nfe": 5, "n_samples": 100, "exact_subset": 0, "seed": 5}


def ends_succeeded_once(lab, job_id) -> dict:
    """Waits for the job's end: one claim, one run, one final status. Returns the job."""
    follow(lab, job_id, is_terminal, timeout=120)
    assert assert_whole_history(stored_events(lab, job_id)) == ["queued", "running", "succeeded"]
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["attempts"] == 1 and job["result"]["nfe_used"] == QUICK["nfe"]
    return job


def test_a_job_posted_while_the_broker_is_down_runs_once_the_broker_is_back(lab):
    lab.worker_for("gpu")
    # a persistent Redis (compose's `appendonly yes`) going down: it keeps the reaper's marker, so
    # nothing says a message is missing; only the job's own record can tell it was never sent
    lab.redis.stop_keeping_data()
    try:
        job_id = submit(lab, QUICK)  # 201: stored, its publish failed
    finally:
        lab.redis.start()
    ends_succeeded_once(lab, job_id)


def test_a_message_that_arrives_while_the_database_is_down_still_runs_its_job_once(lab):
    lab.stop_all_workers()
    # a worker killed at once keeps its presence record for LAB_WORKER_STALE_SECONDS: the scheduler
    # admits the job into its slot (jobs/scheduler.py), and the message waits in the broker for a worker
    doomed = lab.worker_for("gpu")
    workers_until(lab, lambda rows: any(w["name"].startswith(f"{doomed}@") for w in rows), f"{doomed} announced")
    lab.kill_worker(doomed)
    job_id = submit(lab, QUICK)
    lab.pg.kill()
    try:
        _, out = lab.start_worker("db-down")  # takes the message at once, and cannot claim the job
        out.wait_for(f"job {job_id}: claim failed while the database is down", timeout=60)
    finally:
        lab.pg.start()
    assert ends_succeeded_once(lab, job_id)["worker"].startswith("db-down@")
