"""Isolation between users: another user's ids answer 404 everywhere, no login answers 401/403."""

import pytest
from rest_framework.test import APIClient
from websockets.exceptions import ConnectionClosed

from jobs.services import create_job
from jobs.models import Job
from tests.helpers import store_artifact, wait_for_status, ws_connect

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alices(user):
    """A finished job of alice's with a model artifact on disk."""
    job = create_job(user, "sample", {"nfe": 5, "n_samples": 10}, "mine", [], send=False)
    job.status = "succeeded"
    job.save(update_fields=["status"])
    return job, store_artifact(job, "model.safetensors", "model", b"secret weights")


def endpoints(job_id, art_id):
    return [("get", f"/api/jobs/{job_id}/"), ("post", f"/api/jobs/{job_id}/cancel/"),
            ("post", f"/api/jobs/{job_id}/retry/"), ("get", f"/api/jobs/{job_id}/events/"),
            ("get", f"/api/jobs/{job_id}/artifacts/"), ("get", f"/api/artifacts/{art_id}/"),
            ("get", f"/api/artifacts/{art_id}/download/")]


def test_alice_reaches_her_own_things(alices, user):
    job, art = alices
    me = APIClient()
    me.force_authenticate(user)
    for method, path in endpoints(job.pk, art.pk):
        r = getattr(me, method)(path)
        assert r.status_code in (200, 201, 409), (path, r.status_code)  # 409: cancel of a finished job
    # the retry made a job a session worker may pick up: end it before the database is flushed,
    # or the worker's writes and the flush's TRUNCATE can deadlock
    for other in Job.objects.filter(owner=user).exclude(pk=job.pk):
        me.post(f"/api/jobs/{other.pk}/cancel/")
        wait_for_status(other.pk, {"succeeded", "failed", "cancelled"}, timeout=120)


def test_another_user_gets_404_everywhere_and_sees_nothing_in_lists(alices, other_user):
    job, art = alices
    bob = APIClient()
    bob.force_authenticate(other_user)
    for method, path in endpoints(job.pk, art.pk):
        r = getattr(bob, method)(path)
        assert r.status_code == 404, (path, r.status_code)
        assert r["Content-Type"] == "application/json"
    assert bob.get("/api/jobs/").json()["count"] == 0
    assert bob.get("/api/artifacts/").json()["count"] == 0
    # nor can bob use alice's model as the input of his own job
    r = bob.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": art.pk}}}, format="json")
    assert r.status_code == 400 and "model.artifact" in r.json()["params"]
    job.refresh_from_db()
    assert job.status == "succeeded" and not job.cancel_requested


def test_without_login_every_endpoint_answers_401_with_json(alices):
    job, art = alices
    anonymous = APIClient()
    paths = endpoints(job.pk, art.pk) + [("get", "/api/jobs/"), ("post", "/api/jobs/"), ("get", "/api/artifacts/"),
                                         ("get", "/api/job-kinds/"), ("get", "/api/workers/"),
                                         ("get", "/api/schema/")]
    for method, path in paths:
        r = getattr(anonymous, method)(path, HTTP_ACCEPT="application/json")
        assert r.status_code == 401, (path, r.status_code)
        assert "detail" in r.json()
    # the browser pages send anonymous users to the login form
    r = anonymous.get("/api/docs/")
    assert r.status_code in (302, 401, 403)


def test_websockets_of_another_users_job_or_an_unknown_one_close_4404(alices, other_user, live_server_url):
    from rest_framework.authtoken.models import Token

    job, _ = alices
    bob = Token.objects.create(user=other_user).key
    for path in (f"/ws/jobs/{job.pk}/", f"/ws/jobs/{job.pk + 10**6}/", f"/ws/jobs/{job.pk}/?after=0"):
        with ws_connect(live_server_url, path, token=bob) as conn:
            with pytest.raises(ConnectionClosed) as closed:
                conn.recv(timeout=10)
        assert closed.value.rcvd.code == 4404, path
    with ws_connect(live_server_url, f"/ws/jobs/{job.pk}/", token="not-a-token") as conn:
        with pytest.raises(ConnectionClosed) as closed:
            conn.recv(timeout=10)
    assert closed.value.rcvd.code == 4401


def test_outputs_used_by_lists_only_the_jobs_the_caller_may_see(alices, user, django_user_model):
    job, art = alices
    staff = django_user_model.objects.create_user("carol", password="pw", is_staff=True)
    alice, carol = APIClient(), APIClient()
    alice.force_authenticate(user)
    carol.force_authenticate(staff)
    body = {"kind": "sample", "params": {"model": {"artifact": art.pk}}}
    hers, staffs = (c.post("/api/jobs/", body, format="json").json()["id"] for c in (alice, carol))
    # a staff user's job may use alice's model; alice must not learn that job's id
    assert alice.get(f"/api/jobs/{job.pk}/").json()["outputs_used_by"] == [hers]
    listed = {j["id"]: j for j in alice.get("/api/jobs/").json()["results"]}
    assert listed[job.pk]["outputs_used_by"] == [hers] and staffs not in listed
    assert carol.get(f"/api/jobs/{job.pk}/").json()["outputs_used_by"] == sorted([hers, staffs])
