"""REST: create, validate, list, filter, cancel, retry, events: the contract of docs/api.md."""
import pytest
from rest_framework.test import APIClient

from jobs.models import Job

pytestmark = pytest.mark.django_db

GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}


def test_create_answers_201_with_the_job(api, user):
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": GMM, "nfe": 10, "n_samples": 100}},
                 format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert set(body) >= {"id", "name", "kind", "params", "status", "progress", "result", "error", "created_at",
                         "started_at", "finished_at", "owner"}
    assert body["status"] == "queued" and body["owner"] == "alice" and body["kind"] == "sample"
    # the stored params are the validated ones, defaults filled in: the job is reproducible
    assert body["params"]["nfe"] == 10 and "sampler" in body["params"] and "seed" in body["params"]


@pytest.mark.parametrize("params, field", [
    ({"n_samples": -5}, "n_samples"),
    ({"n_samples": 10**9}, "n_samples"),
    ({"nfe": "ten"}, "nfe"),
    ({"sampler": "magic"}, "sampler"),
    ({"no_such_param": 1}, "no_such_param"),
    ({"model": {"type": "gmm", "means": [[0.0, 0.0]], "stds": [-1.0], "weights": [1.0]}}, "model"),
])
def test_bad_params_answer_400_naming_the_field(api, params, field):
    r = api.post("/api/jobs/", {"kind": "sample", "params": params}, format="json")
    assert r.status_code == 400, r.content
    errors = r.json()["params"]
    assert any(k == field or k.startswith(field + ".") for k in errors), errors
    assert Job.objects.count() == 0


def test_unknown_kind_is_400_on_kind(api):
    r = api.post("/api/jobs/", {"kind": "teleport", "params": {}}, format="json")
    assert r.status_code == 400 and "kind" in r.json()


def test_params_must_be_an_object(api):
    r = api.post("/api/jobs/", {"kind": "sample", "params": [1, 2]}, format="json")
    assert r.status_code == 400 and "params" in r.json()


def test_a_model_path_is_refused_over_the_api(api):
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"path": "/etc"}}}, format="json")
    assert r.status_code == 400 and "params" in r.json()


def test_someone_elses_artifact_is_refused_with_the_field_named(api, other_user, make_job):
    from jobs.models import Artifact

    theirs = make_job(owner=other_user)
    art = Artifact.objects.create(job=theirs, name="model.safetensors", kind="model", file="x", size=1, sha256="0")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": art.pk}}}, format="json")
    assert r.status_code == 400
    assert "model.artifact" in r.json()["params"]


def _model_artifact(job, prediction):
    """A model artifact whose model.json says what it predicts (the solvers never run here)."""
    import json

    from tests.helpers import store_artifact

    Job.objects.filter(pk=job.pk).update(status="succeeded")
    store_artifact(job, "model.json", "config", json.dumps({"arch": "x", "prediction": prediction}).encode())
    return store_artifact(job, "model.safetensors", "model", b"\0")


def test_a_sampler_of_the_wrong_kind_for_the_model_is_a_400_naming_sampler(api, make_job):
    masked = _model_artifact(make_job(), "masked")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": masked.pk}, "sampler": "ddim"}},
                 format="json")
    assert r.status_code == 400, r.content
    assert r.json() == {"params": {"sampler": [
        "'ddim' is an ODE solver for continuous models; this model is a masked diffusion model: choose mdlm_ddpm"]}}
    flow = _model_artifact(make_job(), "flow")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": flow.pk}, "sampler": "mdlm_ddpm"}},
                 format="json")
    assert r.status_code == 400 and list(r.json()["params"]) == ["sampler"], r.content
    assert Job.objects.count() == 2  # the two parents only
    # the model's own kind picks the default sampler: no sampler given is no mismatch
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": masked.pk}, "nfe": 8}},
                 format="json")
    assert r.status_code == 201, r.content


def test_list_filters_and_paginates(api, make_job):
    for _ in range(3):
        make_job()
    done = make_job()
    Job.objects.filter(pk=done.pk).update(status="succeeded")
    r = api.get("/api/jobs/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 4 and set(body) == {"count", "next", "previous", "results"}
    assert api.get("/api/jobs/?status=succeeded").json()["count"] == 1
    assert api.get("/api/jobs/?kind=train").json()["count"] == 0
    assert api.get("/api/jobs/?status=bogus").status_code == 400


def test_other_users_jobs_are_404_everywhere(api, other_user, make_job):
    theirs = make_job(owner=other_user)
    for method, path in [("get", f"/api/jobs/{theirs.pk}/"), ("post", f"/api/jobs/{theirs.pk}/cancel/"),
                         ("post", f"/api/jobs/{theirs.pk}/retry/"), ("get", f"/api/jobs/{theirs.pk}/events/"),
                         ("get", f"/api/jobs/{theirs.pk}/artifacts/")]:
        assert getattr(api, method)(path).status_code == 404, path
    assert api.get("/api/jobs/").json()["count"] == 0
    assert Job.objects.get(pk=theirs.pk).status == "queued"


def test_without_login_every_endpoint_is_refused(make_job):
    job = make_job()
    anon = APIClient()
    for path in ["/api/jobs/", f"/api/jobs/{job.pk}/", "/api/job-kinds/", f"/api/jobs/{job.pk}/events/"]:
        assert anon.get(path).status_code in (401, 403), path


def test_cancel_of_a_queued_job_ends_it_cancelled(api, make_job):
    job = make_job()
    r = api.post(f"/api/jobs/{job.pk}/cancel/")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"
    assert api.post(f"/api/jobs/{job.pk}/cancel/").status_code == 409


def test_retry_makes_a_new_job_with_the_same_kind_and_params(api, make_job):
    job = make_job(params={"nfe": 7})
    r = api.post(f"/api/jobs/{job.pk}/retry/")
    assert r.status_code == 201
    assert r.json()["id"] != job.pk and r.json()["params"] == job.params


def test_retry_keeps_the_devices_and_the_queue(api, make_job):
    from jobs.models import Job

    job = make_job(params={"nfe": 7})
    Job.objects.filter(pk=job.pk).update(devices=2, queue="devices-test")  # a queue no worker serves
    r = api.post(f"/api/jobs/{job.pk}/retry/")
    assert r.status_code == 201
    again = Job.objects.get(pk=r.json()["id"])
    assert (again.devices, again.queue, again.status) == (2, "devices-test", "queued")


def test_events_after_seq(api, make_job):
    from jobs.eventlog import append_events

    job = make_job()
    append_events(job.pk, [("log", {"text": f"line {i}"}) for i in range(5)])
    all_events = api.get(f"/api/jobs/{job.pk}/events/").json()
    assert [e["seq"] for e in all_events] == [1, 2, 3, 4, 5, 6]
    assert set(all_events[0]) == {"seq", "type", "data", "ts"}
    later = api.get(f"/api/jobs/{job.pk}/events/?after=4").json()
    assert [e["seq"] for e in later] == [5, 6]
    assert api.get(f"/api/jobs/{job.pk}/events/?after=x").status_code == 400


def test_job_kinds_export_a_json_schema(api):
    kinds = {k["name"]: k for k in api.get("/api/job-kinds/").json()}
    assert "sample" in kinds
    schema = kinds["sample"]["params_schema"]
    assert schema["type"] == "object" and "nfe" in schema["properties"]
    assert set(kinds["sample"]) == {"name", "title", "description", "params_schema", "queue"}


def test_openapi_schema_describes_the_api(api):
    r = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in ["/api/jobs/", "/api/jobs/{id}/", "/api/jobs/{id}/cancel/", "/api/jobs/{id}/retry/",
              "/api/jobs/{id}/events/", "/api/jobs/{id}/artifacts/", "/api/job-kinds/"]:
        assert p in paths, p


def test_per_user_cap_on_active_jobs(api, settings):
    settings.LAB_MAX_ACTIVE_JOBS = 2
    for _ in range(2):
        assert api.post("/api/jobs/", {"kind": "sample", "params": {}}, format="json").status_code == 201
    r = api.post("/api/jobs/", {"kind": "sample", "params": {}}, format="json")
    assert r.status_code == 429 and "limit" in r.json()["detail"]


def test_token_auth_works_for_scripts(token, user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/jobs/").status_code == 200


def test_lineage_links_both_ways_and_the_list_has_no_n_plus_1(api, user, make_job,
                                                              django_assert_max_num_queries):
    from jobs.models import Artifact

    parent = make_job()
    Job.objects.filter(pk=parent.pk).update(status="succeeded")
    model = Artifact.objects.create(job=parent, name="model.safetensors", kind="model", file="x", size=1, sha256="0")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": model.pk}}}, format="json")
    assert r.status_code == 201, r.content
    child = r.json()
    assert child["input_artifacts"] == [model.pk]
    assert api.get(f"/api/jobs/{parent.pk}/").json()["outputs_used_by"] == [child["id"]]
    for _ in range(30):
        make_job()
    # session/auth, count, one page of jobs with their links: not one query per job
    with django_assert_max_num_queries(6):
        body = api.get("/api/jobs/").json()
    assert body["count"] == 32


def test_list_and_detail_answer_exactly_what_drfs_generic_fields_would(api, user, make_job):
    """The job answer is built by hand for speed (bench_platform); DRF's own fields are the
    reference for every value's format (datetimes in UTC with 'Z', floats, nulls)."""
    from django.utils import timezone
    from rest_framework import serializers

    from jobs.models import Artifact

    class Reference(serializers.ModelSerializer):
        owner = serializers.CharField(source="owner.username")

        class Meta:
            model = Job
            fields = ["id", "name", "kind", "params", "status", "progress", "result", "error", "created_at",
                      "started_at", "finished_at", "owner", "attempts", "max_attempts", "queue", "worker"]

    parent = make_job(name="parent")
    Job.objects.filter(pk=parent.pk).update(status="succeeded", progress=1, result={"nfe_used": 10, "x": [1.5]},
                                            started_at=timezone.now(), finished_at=timezone.now(), worker="w1")
    model = Artifact.objects.create(job=parent, name="model.safetensors", kind="model", file="x", size=1, sha256="0")
    child = api.post("/api/jobs/", {"kind": "sample", "params": {"model": {"artifact": model.pk}}},
                     format="json").json()
    listed = {j["id"]: j for j in api.get("/api/jobs/").json()["results"]}
    for job in Job.objects.select_related("owner"):
        expected = dict(Reference(job).data)
        for answer in (listed[job.pk], api.get(f"/api/jobs/{job.pk}/").json()):
            assert {k: answer[k] for k in expected} == expected
    assert listed[child["id"]]["waiting_reason"].startswith("waiting")  # no worker in this test
    assert listed[parent.pk]["waiting_reason"] is None
    assert listed[child["id"]]["input_artifacts"] == [model.pk] and listed[parent.pk]["outputs_used_by"] == [child["id"]]


QUICK_SAMPLE = {"sampler": "ddim", "nfe": 5, "n_samples": 100, "exact_subset": 0}


def test_priority_low_and_normal_for_members_high_for_project_admins_only(api, user, other_user):
    from jobs.projects import Membership, Project

    team = Project.objects.create(name="team")
    Membership.objects.create(project=team, user=user, role="member")
    for priority in ("low", "normal"):
        r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "project": team.pk, "priority": priority},
                     format="json")
        assert r.status_code == 201 and r.json()["priority"] == priority, r.content
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "project": team.pk, "priority": "high"},
                 format="json")
    assert r.status_code == 403 and "admin" in r.json()["detail"], r.content
    # in their personal project they are the admin
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "priority": "high"}, format="json")
    assert r.status_code == 201 and r.json()["priority"] == "high"
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE}, format="json")
    assert r.json()["priority"] == "normal"


@pytest.mark.parametrize("value", ["urgent", 3, None, ""])
def test_a_bad_priority_is_400_naming_priority(api, value):
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "priority": value}, format="json")
    assert r.status_code == 400 and "priority" in r.json(), r.content


def test_waiting_jobs_show_their_position_and_reason(api, user, other_user):
    from django.utils import timezone

    from jobs import workers

    workers.beat("only-cpu@test", ["cpu"], "CPU", concurrency=1)
    try:
        first = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE}, format="json").json()
        second = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE}, format="json").json()
        assert first["queue"] == "gpu" and first["queue_position"] == 1
        assert first["waiting_reason"] == "waiting: no worker on queue gpu"
        workers.beat("gpu@test", ["gpu"], "CPU", concurrency=1)
        Job.objects.filter(pk=first["id"]).update(status="running", worker="gpu@test", admitted_at=timezone.now())
        listed = {j["id"]: j for j in api.get("/api/jobs/").json()["results"]}
        assert listed[first["id"]]["queue_position"] is None and listed[first["id"]]["waiting_reason"] is None
        assert (listed[second["id"]]["queue_position"], listed[second["id"]]["waiting_reason"]) == (
            1, "waiting for a worker on queue gpu")
        third = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE}, format="json").json()
        assert (third["queue_position"], third["waiting_reason"]) == (2, "1 job ahead of you on gpu")
        one = api.get(f"/api/jobs/{third['id']}/").json()
        assert (one["queue_position"], one["waiting_reason"]) == (2, "1 job ahead of you on gpu")
    finally:
        workers.forget("only-cpu@test")
        workers.forget("gpu@test")


def test_a_job_asks_for_a_named_pool_and_waits_for_a_worker_of_it(api):
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "queue": "a100"}, format="json")
    assert r.status_code == 201 and r.json()["queue"] == "a100", r.content
    assert r.json()["waiting_reason"] == "waiting: no worker on queue a100"
    retried = api.post(f"/api/jobs/{r.json()['id']}/retry/").json()
    assert retried["queue"] == "a100"
    assert api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE}, format="json").json()["queue"] == "gpu"


@pytest.mark.parametrize("queue", ["A100", "", "gpu pool", "x" * 33, "-gpu"])
def test_a_bad_queue_name_is_400_naming_queue(api, queue):
    r = api.post("/api/jobs/", {"kind": "sample", "params": QUICK_SAMPLE, "queue": queue}, format="json")
    assert r.status_code == 400 and "queue" in r.json(), r.content


def test_a_cuda_job_cannot_ask_for_the_cpu_queue(api):
    r = api.post("/api/jobs/", {"kind": "sample", "params": {**QUICK_SAMPLE, "device": "cuda"}, "queue": "cpu"},
                 format="json")
    assert r.status_code == 400 and "queue" in r.json(), r.content
