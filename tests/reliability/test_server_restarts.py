"""The lab's Redis and PostgreSQL restarted while a job runs: the job finishes once, no stored event
is lost, and a client that reconnects catches up from the database by `seq`."""
from tests.helpers import ws_connect, ws_read
from tests.reliability.http_client import (assert_whole_history, client, follow, is_progress, is_terminal,
                                         stored_events, submit)

PARAMS = {"sampler": "ddim", "nfe": 100, "n_samples": 1000, "exact_subset": 0, "seed": 11}


def test_redis_restart_mid_job(lab):
    lab.worker_for("gpu")
    job_id = submit(lab, PARAMS)
    seen = follow(lab, job_id, is_progress(5))
    lab.redis.restart()  # no persistence: the broker forgets the job's unacked message, every socket breaks
    rest = follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    statuses = assert_whole_history(events)
    assert statuses[-1] == "succeeded", events[-5:]
    # the browser's view: what it saw before the restart, then the replay after its last seq, is the whole history
    assert [e["seq"] for e in seen + rest] == [e["seq"] for e in events]
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["result"]["nfe_used"] == 100
    # the worker reconnected and still serves its queues: a new job runs
    again = submit(lab, {**PARAMS, "nfe": 5})
    assert follow(lab, again, is_terminal)[-1]["data"]["status"] == "succeeded"


def test_postgres_restart_mid_job(lab):
    lab.worker_for("gpu")
    job_id = submit(lab, PARAMS)
    seen = follow(lab, job_id, is_progress(5))
    lab.pg.restart()  # an immediate stop: every connection is cut mid-transaction
    rest = follow(lab, job_id, is_terminal, after=seen[-1]["seq"])

    events = stored_events(lab, job_id)
    statuses = assert_whole_history(events)
    assert statuses[-1] == "succeeded", events[-5:]
    assert [e["seq"] for e in seen + rest] == [e["seq"] for e in events]
    # progress reached the end in this attempt: the events written during the outage were kept and flushed
    last_progress = [e["data"] for e in events if e["type"] == "progress"][-1]
    assert last_progress["done"] == last_progress["total"]
    job = client(lab).get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0


def test_with_redis_down_a_socket_still_gets_every_event_from_the_database(lab):
    lab.stop_all_workers()  # the job stays queued: its events are the web process's own
    lab.redis.kill()
    try:
        job_id = submit(lab, PARAMS)  # the broker is unreachable: stored, and the answer is no 500
        with ws_connect(lab.url, f"/ws/jobs/{job_id}/", token=lab.tokens["alice"]) as conn:
            assert ws_read(conn, 30)["data"]["status"] == "queued"  # the replay needs only the database
            assert client(lab).post(f"/api/jobs/{job_id}/cancel/").status_code == 202
            # no live message can come: the socket's idle catch-up reads it (every 3 s)
            ev = ws_read(conn, 30)
            assert (ev["seq"], ev["data"]["status"]) == (2, "cancelled")
    finally:
        lab.redis.start()
