"""The audit log: each action writes exactly one entry (user, address, target, project); only a
project's admins read it over REST; and neither the ORM nor raw SQL can change or remove an entry."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from rest_framework.test import APIClient

from jobs import audit
from jobs.audit import AuditEntry
from jobs.models import Job
from jobs.projects import Membership, personal_project
from jobs.reporter import JobReporter
from jobs.tasks import job_dir

pytestmark = pytest.mark.django_db

ADDR = "203.0.113.9"  # TEST-NET-3: not the test client's default 127.0.0.1


@pytest.fixture
def client_of():
    def make(user, addr=ADDR):
        c = APIClient(REMOTE_ADDR=addr)
        c.force_authenticate(user)
        return c
    return make


def only_new_entry(before: int) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(pk__gt=before))
    assert len(entries) == 1, [str(e) for e in entries]
    return entries[0]


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def assert_entry(e: AuditEntry, user, action, target, project_id):
    assert (e.user_id, e.username, e.address, e.action, e.target, e.project_id) == (
        user.pk, user.username, ADDR, action, target, project_id)


def test_create_cancel_retry_delete_each_write_one_entry(user, client_of):
    api = client_of(user)
    project = personal_project(user)

    before = last_id()
    r = api.post("/api/jobs/", {"kind": "sample", "params": {}}, format="json")
    assert r.status_code == 201, r.content
    job_id = r.json()["id"]
    assert_entry(only_new_entry(before), user, "create", f"job {job_id}", project.pk)

    before = last_id()
    assert api.post(f"/api/jobs/{job_id}/cancel/").status_code == 202
    assert_entry(only_new_entry(before), user, "cancel", f"job {job_id}", project.pk)

    before = last_id()
    r = api.post(f"/api/jobs/{job_id}/retry/")
    assert r.status_code == 201, r.content
    e = only_new_entry(before)
    assert_entry(e, user, "retry", f"job {job_id}", project.pk)
    assert e.detail == f"as job {r.json()['id']}"

    before = last_id()
    assert api.delete(f"/api/jobs/{job_id}/").status_code == 204
    assert_entry(only_new_entry(before), user, "delete", f"job {job_id}", project.pk)
    assert not Job.objects.filter(pk=job_id).exists()  # the entry outlives what it names


def test_a_refused_action_writes_nothing(user, other_user, client_of):
    r = client_of(user).post("/api/jobs/", {"kind": "sample", "params": {}}, format="json")
    job_id = r.json()["id"]
    before = last_id()
    assert client_of(other_user).post(f"/api/jobs/{job_id}/cancel/").status_code == 404
    assert client_of(user).delete(f"/api/jobs/{job_id}/").status_code == 409  # still queued
    assert last_id() == before


def test_a_download_writes_one_entry(user, make_job, client_of):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1)  # as a worker holds it
    job.refresh_from_db()
    rep = JobReporter(job, job_dir(job))
    (rep.out_dir / "report.json").write_bytes(b'{"a": 1}')
    rep.artifact("report.json", rep.out_dir / "report.json", "report")
    rep.close()
    art = job.artifacts.get()

    before = last_id()
    r = client_of(user).get(f"/api/artifacts/{art.pk}/download/")
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b'{"a": 1}'
    entry = only_new_entry(before)
    assert_entry(entry, user, "download", f"artifact {art.pk}", job.project_id)
    assert entry.detail == f"report.json of job {job.pk}"
    # the job page's previews say so
    before = last_id()
    assert client_of(user).get(f"/api/artifacts/{art.pk}/download/?preview=1").status_code == 200
    assert only_new_entry(before).detail == f"report.json of job {job.pk} (previewed on the job page)"


def test_record_takes_a_request_or_a_user():
    """What the member and token views call: a request gives its user and address."""
    bob = get_user_model().objects.create_user("bob", password="pw")
    request = RequestFactory().post("/api/tokens/", REMOTE_ADDR=ADDR)
    request.user = bob
    e = audit.record(request, audit.Action.TOKEN_CREATE, "token ci")
    assert_entry(e, bob, "token.create", "token ci", None)
    e = audit.record(bob, audit.Action.MEMBER_ADD, "member carol", project=personal_project(bob))
    assert (e.username, e.address, e.target, e.project_id) == ("bob", "", "member carol", personal_project(bob).pk)


def test_only_project_admins_read_the_log(user, other_user, client_of):
    project = personal_project(user)
    Membership.objects.create(project=project, user=other_user, role=Membership.Role.MEMBER)
    for i in range(3):
        client_of(user).post("/api/jobs/", {"kind": "sample", "params": {}}, format="json")
    url = f"/api/projects/{project.pk}/audit/"

    r = client_of(user).get(url)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 3 and set(body) >= {"count", "next", "previous", "results"}  # as the jobs list
    assert [set(e) for e in body["results"]] == [{"ts", "user", "action", "target"}] * 3
    assert [e["action"] for e in body["results"]] == ["create"] * 3
    ids = [int(e["target"].split()[1]) for e in body["results"]]
    assert ids == sorted(ids, reverse=True)  # newest first

    assert client_of(other_user).get(url).status_code == 404  # a member, not an admin
    Membership.objects.filter(project=project, user=other_user).update(role=Membership.Role.VIEWER)
    assert client_of(other_user).get(url).status_code == 404
    Membership.objects.filter(project=project, user=other_user).delete()
    assert client_of(other_user).get(url).status_code == 404  # not a member
    assert APIClient().get(url).status_code in (401, 403)  # anonymous, as every API view
    assert client_of(user).get("/api/projects/99999999999999999999/audit/").status_code == 404


def test_the_orm_refuses_to_change_or_remove_an_entry(user):
    e = audit.record(user, audit.Action.CREATE, "job 1")
    e.target = "job 2"
    with pytest.raises(audit.AppendOnly):
        e.save()
    with pytest.raises(audit.AppendOnly):
        e.delete()
    with pytest.raises(audit.AppendOnly):
        AuditEntry.objects.filter(pk=e.pk).update(target="job 2")
    with pytest.raises(audit.AppendOnly):
        AuditEntry.objects.filter(pk=e.pk).delete()
    assert AuditEntry.objects.get(pk=e.pk).target == "job 1"


@pytest.mark.parametrize("sql", ["UPDATE jobs_auditentry SET target = 'job 2' WHERE id = %s",
                                 "DELETE FROM jobs_auditentry WHERE id = %s"])
def test_the_database_refuses_to_change_or_remove_an_entry(user, sql):
    e = audit.record(user, audit.Action.CREATE, "job 1")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [e.pk])
    assert AuditEntry.objects.filter(pk=e.pk, target="job 1").count() == 1
