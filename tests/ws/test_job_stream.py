"""End to end: REST -> a real Celery worker -> events over a real websocket of a live ASGI server."""
import io

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.helpers import wait_for_status, ws_connect, ws_read

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# two equal components at (+-2, 0), std 0.5: mean 0, var_x = 4 + 0.25, var_y = 0.25
GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}


def read_until_status(conn, statuses, timeout=120):
    events = []
    while True:
        ev = ws_read(conn, timeout)
        events.append(ev)
        if ev["type"] == "status" and ev["data"]["status"] in statuses:
            return events


def test_sample_job_streams_live_and_its_samples_follow_the_mixture(celery_worker, live_server_url, token):
    http = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Token {token}"}, timeout=60)
    n = 20000
    r = http.post("/api/jobs/", json={"kind": "sample", "params": {
        "model": GMM, "schedule": "vp_linear", "sampler": "dpm_solver_pp_2m", "nfe": 20, "n_samples": n, "seed": 3}})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    with ws_connect(live_server_url, f"/ws/jobs/{job_id}/?after=0", token=token) as conn:
        events = read_until_status(conn, {"succeeded", "failed"})
    assert events[-1]["data"]["status"] == "succeeded", events[-1]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), "every event once, in order"
    progress = [e["data"] for e in events if e["type"] == "progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    assert any(e["type"] == "artifact" and e["data"]["name"] == "samples.npy" for e in events)

    job = http.get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0 and job["result"]["nfe_used"] == 20
    arts = {a["name"]: a for a in http.get(f"/api/jobs/{job_id}/artifacts/").json()}
    raw = http.get(arts["samples.npy"]["url"])
    assert raw.status_code == 200 and "attachment" in raw.headers["content-disposition"]
    x = np.load(io.BytesIO(raw.content))
    assert x.shape == (n, 2) and x.dtype == np.float32
    # sampling error of the moments at n = 20000 (5 standard errors), plus 0.05 for the solver at 20 NFE
    se_mean = np.sqrt(np.array([4.25, 0.25]) / n)
    assert np.all(np.abs(x.mean(0)) < 5 * se_mean + 0.05)
    # Var of x^2 for this mixture: E x^4 - (E x^2)^2 = 22.1875 - 4.25^2 = 4.125 (x), 2 * 0.25^2 (y)
    var = x.var(0)
    assert abs(var[0] - 4.25) < 5 * np.sqrt(4.125 / n) + 0.1
    assert abs(var[1] - 0.25) < 5 * np.sqrt(2 * 0.25**2 / n) + 0.05
    # the two modes keep their weights: a binomial proportion at n
    assert abs((x[:, 0] > 0).mean() - 0.5) < 5 * np.sqrt(0.25 / n)

    # a reconnect after seq k gets exactly the rest
    k = len(seqs) // 2
    with ws_connect(live_server_url, f"/ws/jobs/{job_id}/?after={k}", token=token) as conn:
        rest = [ws_read(conn) for _ in range(len(seqs) - k)]
    assert [e["seq"] for e in rest] == seqs[k:]


def test_cancel_of_a_running_job_stops_it(celery_worker, live_server_url, token):
    http = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Token {token}"}, timeout=60)
    r = http.post("/api/jobs/", json={"kind": "sample", "params": {
        "model": GMM, "sampler": "ddim", "nfe": 1000, "n_samples": 200000}})
    job_id = r.json()["id"]
    with ws_connect(live_server_url, f"/ws/jobs/{job_id}/", token=token) as conn:
        while True:  # running, and past its first step
            ev = ws_read(conn)
            if ev["type"] == "progress":
                break
        assert http.post(f"/api/jobs/{job_id}/cancel/").status_code == 202
        events = read_until_status(conn, {"cancelled", "succeeded", "failed"})
    assert events[-1]["data"]["status"] == "cancelled"
    job = http.get(f"/api/jobs/{job_id}/").json()
    assert job["status"] == "cancelled" and job["progress"] < 1.0


def test_another_users_job_socket_closes_4404_and_anonymous_4401(celery_worker, live_server_url, user, other_user,
                                                                   make_job):
    from rest_framework.authtoken.models import Token

    job = make_job(owner=user, send=True)
    wait_for_status(job.pk, {"succeeded", "failed"})
    bob = Token.objects.create(user=other_user).key
    with ws_connect(live_server_url, f"/ws/jobs/{job.pk}/", token=bob) as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=10)
    assert closed.value.rcvd.code == 4404
    with ws_connect(live_server_url, f"/ws/jobs/{job.pk}/") as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=10)
    assert closed.value.rcvd.code == 4401
    with ws_connect(live_server_url, "/ws/jobs/") as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_user_stream_carries_status_of_own_jobs_only(celery_worker, live_server_url, token, other_user):
    from rest_framework.authtoken.models import Token

    bob = Token.objects.create(user=other_user).key
    http = httpx.Client(base_url=live_server_url, headers={"Authorization": f"Token {token}"}, timeout=60)
    with ws_connect(live_server_url, "/ws/jobs/", token=token) as mine, \
            ws_connect(live_server_url, "/ws/jobs/", token=bob) as theirs:
        job_id = http.post("/api/jobs/", json={"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}).json()["id"]
        seen = []
        while not (seen and seen[-1]["type"] == "status" and seen[-1]["data"]["status"] == "succeeded"):
            seen.append(ws_read(mine))
        assert all(e["job"] == job_id for e in seen)
        assert [e["data"]["status"] for e in seen if e["type"] == "status"][-2:] == ["running", "succeeded"]
        with pytest.raises(TimeoutError):
            theirs.recv(timeout=1.0)  # bob's stream stays silent: nothing of alice's reaches it


def test_a_foreign_origin_is_refused(live_server_url, token):
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(live_server_url, "/ws/jobs/", token=token, origin="https://evil.example")
    assert refused.value.response.status_code == 403


def test_a_knox_token_opens_the_socket_until_its_user_is_deactivated_or_it_is_revoked(
        celery_worker, live_server_url, user, make_job):
    from jobs.tokens import ApiToken

    def refused():
        with ws_connect(live_server_url, f"/ws/jobs/{job.pk}/", token=key) as conn:
            with pytest.raises(ConnectionClosed) as closed:
                conn.recv(timeout=10)
        return closed.value.rcvd.code

    job = make_job(owner=user, send=True)
    wait_for_status(job.pk, {"succeeded", "failed"})
    made, key = ApiToken.objects.create(user, expiry=None, name="notebook", scope="read")
    with ws_connect(live_server_url, f"/ws/jobs/{job.pk}/?after=0", token=key) as conn:
        assert ws_read(conn, 30)["seq"] == 1
    user.is_active = False
    user.save()
    assert refused() == 4401
    user.is_active = True
    user.save()
    made.delete()
    assert refused() == 4401


def test_queue_positions_reach_only_the_sockets_that_ask_for_them(live_server_url, token, user):
    """`/ws/jobs/?queue=1` gets the scheduler's positions; plain `/ws/jobs/` keeps its contract (every
    event names its job). The queue is served by a worker record only this test writes."""
    from django.utils import timezone

    from jobs import scheduler, workers
    from jobs.models import Job

    workers.beat("ws-queue@test", ["ws-queue-test"], "CPU", concurrency=1)
    try:
        busy = Job.objects.create(owner=user, kind="sample", status="running", worker="ws-queue@test",
                                  queue="ws-queue-test", admitted_at=timezone.now())
        first, second = (Job.objects.create(owner=user, kind="sample", queue="ws-queue-test") for _ in range(2))
        with ws_connect(live_server_url, "/ws/jobs/?queue=1", token=token) as asked, \
                ws_connect(live_server_url, "/ws/jobs/", token=token) as plain:
            Job.objects.filter(pk=busy.pk).update(status="succeeded")
            assert scheduler.schedule() == [first.pk]
            event = ws_read(asked)
            assert event["type"] == "queue" and event["project"] == first.project_id
            assert event["data"]["jobs"] == {
                str(first.pk): {"queue_position": None, "waiting_reason": None},
                str(second.pk): {"queue_position": 1, "waiting_reason": "waiting for a worker on queue ws-queue-test"}}
            with pytest.raises(TimeoutError):
                plain.recv(timeout=1.0)
    finally:
        workers.forget("ws-queue@test")
