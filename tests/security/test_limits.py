"""Params at and beyond their limits, hostile bodies, and the per-user caps on jobs and storage."""
import json
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from jobs.services import TooManyJobs, create_job
from jobs.models import Artifact, Job

pytestmark = pytest.mark.django_db  # in a rolled-back transaction: fast; the threaded test commits


def post(api, body, **extra):
    return api.post("/api/jobs/", body, format="json", **extra)


def raw_post(api, text):
    return api.post("/api/jobs/", data=text, content_type="application/json")


@pytest.mark.parametrize("params, field", [
    ({"n_samples": 10**9}, "n_samples"),  # user story 5: refused at once, the field named
    ({"n_samples": 0}, "n_samples"),
    ({"n_samples": "many"}, "n_samples"),
    ({"n_samples": 1.5}, "n_samples"),
    ({"nfe": 10**6}, "nfe"),
    ({"t_eps": "NaN"}, "t_eps"),
    ({"t_eps": "Infinity"}, "t_eps"),
    ({"sampler": "rm -rf /"}, "sampler"),
    ({"seed": {"$gt": 0}}, "seed"),
    ({"unknown_knob": 1}, "unknown_knob"),
    ({"model": {"type": "gmm", "means": [[0.0]] * 300, "stds": [1.0] * 300, "weights": [1.0] * 300}}, "model"),
    ({"model": {"artifact": "1; DROP TABLE jobs_job"}}, "model"),
])
def test_a_bad_param_is_a_400_naming_the_field(api, params, field):
    r = post(api, {"kind": "sample", "params": params})
    assert r.status_code == 400, r.content
    errors = r.json()["params"]
    assert any(k == field or k.startswith(field + ".") for k in errors), errors
    assert Job.objects.count() == 0


@pytest.mark.parametrize("body, field", [
    ({"kind": "sample", "params": [1, 2]}, "params"),
    ({"kind": "sample", "params": "x"}, "params"),
    ({"kind": "nope"}, "kind"),
    ({"kind": 5}, "kind"),
    ({"kind": "sample", "name": "x" * 201}, "name"),
    ({"kind": "sample", "params": {"model": {"path": "/etc"}}}, "params"),
    ([], "non_field_errors"),
])
def test_a_malformed_body_is_a_400_naming_the_field(api, body, field):
    r = post(api, body)
    assert r.status_code == 400, r.content
    assert field in r.json()


def test_json_nan_and_garbage_are_400_with_a_json_body(api):
    for text in ('{"kind": "sample", "params": {"t_eps": NaN}}', '{"kind": "sample", "params": {"nfe": Infinity}}',
                 '{"kind": ', "\x00\x01", '{"kind": "sample"}' * 2):
        r = raw_post(api, text)
        assert r.status_code == 400, (text, r.status_code)
        assert "detail" in r.json()


@pytest.mark.parametrize("depth", [100, 5000, 100_000])
def test_deep_nesting_is_a_400_never_a_500(api, depth):
    text = '{"kind": "sample", "params": {"model": ' + '{"a": ' * depth + "1" + "}" * depth + "}}"
    r = raw_post(api, text)
    assert r.status_code in (400, 413), r.status_code
    assert r.json()


def test_a_10_mb_body_is_a_413_with_json(api):
    text = json.dumps({"kind": "sample", "name": "n", "params": {"pad": "x" * 10_000_000}})
    r = raw_post(api, text)
    assert r.status_code == 413
    assert r.json() == {"detail": "request body too large"}
    assert Job.objects.count() == 0


def test_the_active_jobs_cap_answers_429(api, user, settings):
    settings.LAB_MAX_ACTIVE_JOBS = 3
    for _ in range(3):
        create_job(user, "sample", {}, "", [], send=False)
    r = post(api, {"kind": "sample", "params": {}})
    assert r.status_code == 429 and "limit is 3" in r.json()["detail"]
    Job.objects.filter(owner=user).update(status="succeeded")  # finished jobs do not count
    assert post(api, {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_submits_cannot_slip_past_the_cap_together(user, settings):
    settings.LAB_MAX_ACTIVE_JOBS = 4
    outcomes, barrier = [], threading.Barrier(10)

    def submit():
        barrier.wait()
        try:
            create_job(user, "sample", {}, "", [], send=False)
            outcomes.append("created")
        except TooManyJobs:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["created"] * 4 + ["refused"] * 6
    assert Job.objects.filter(owner=user).count() == 4


def test_the_storage_cap_answers_507_and_counts_only_the_users_own_bytes(api, user, other_user, settings):
    settings.LAB_MAX_ARTIFACT_BYTES = 1000
    theirs = create_job(other_user, "sample", {}, "", [], send=False)
    Artifact.objects.create(job=theirs, name="big.npy", kind="samples", file="x", size=10**6, sha256="0" * 64)
    assert post(api, {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}).status_code == 201
    mine = Job.objects.get(owner=user)
    Artifact.objects.create(job=mine, name="big.npy", kind="samples", file="x", size=1000, sha256="0" * 64)
    r = post(api, {"kind": "sample", "params": {}})
    assert r.status_code == 507 and "limit is 1000" in r.json()["detail"]


def test_bad_query_params_are_400_naming_them(api, user):
    job = create_job(user, "sample", {}, "", [], send=False)
    for query, field in (("after=abc", "after"), ("after=-1", "after"), ("limit=0", "limit"), ("limit=10**9", "limit"),
                         ("limit=5001", "limit")):
        r = api.get(f"/api/jobs/{job.pk}/events/?{query}")
        assert r.status_code == 400 and field in r.json(), (query, r.status_code)
    assert api.get(f"/api/jobs/{job.pk}/events/?after={10**30}").json() == []  # past the end: nothing
    assert api.get("/api/jobs/?status=bogus").status_code == 400
    r = api.get("/api/jobs/?page=99999999999999999999")
    assert r.status_code == 404 and "detail" in r.json()


def test_another_users_token_header_garbage_is_401(user):
    for header in ("Token", "Token a b", "Token \x00", "Bearer x", "Token " + "x" * 10000):
        r = APIClient().get("/api/jobs/", HTTP_AUTHORIZATION=header)
        assert r.status_code == 401, header
