"""/api/projects/: make, list, members, quota; a project keeps an admin; bad input names the field;
the usage a project page shows."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from jobs import membership
from jobs.models import Job
from jobs.projects import Membership, personal_project

pytestmark = pytest.mark.django_db


def client_of(user) -> APIClient:
    c = APIClient()
    c.force_authenticate(user)
    return c


def test_every_user_lists_their_personal_project_and_the_ones_they_make(api, user):
    r = api.get("/api/projects/")
    assert r.status_code == 200
    personal = personal_project(user)
    assert r.json() == [{"id": personal.pk, "name": "alice", "role": "admin", "max_running": None, "preemptible": True,
                        "personal": True}]
    r = api.post("/api/projects/", {"name": "  diffusion team "}, format="json")
    assert r.status_code == 201
    made = r.json()
    assert made == {"id": made["id"], "name": "diffusion team", "role": "admin", "max_running": None, "preemptible": True,
                    "personal": False}
    assert [p["name"] for p in api.get("/api/projects/").json()] == ["alice", "diffusion team"]


def test_a_job_goes_into_the_personal_project_unless_told_and_says_which(api, user):
    team = membership.create_project(user, "team")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}}, format="json")
    assert r.status_code == 201 and r.json()["project"] == personal_project(user).pk
    Job.objects.filter(pk=r.json()["id"]).update(status="cancelled")
    r = api.post("/api/jobs/", {"kind": "sample", "params": {"nfe": 5, "n_samples": 10}, "project": team.pk},
                 format="json")
    assert r.status_code == 201 and r.json()["project"] == team.pk
    Job.objects.filter(pk=r.json()["id"]).update(status="cancelled")
    listed = api.get(f"/api/jobs/?project={team.pk}").json()
    assert listed["count"] == 1 and listed["results"][0]["project"] == team.pk


@pytest.mark.parametrize("body, field", [
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": 5}, "name"), ({}, "name"),
    ({"name": "x" * 101}, "name"),
])
def test_bad_project_names_are_400_naming_the_field(api, body, field):
    r = api.post("/api/projects/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content


@pytest.mark.parametrize("body, field", [
    ({"username": "bob", "role": "owner"}, "role"), ({"username": "bob"}, "role"),
    ({"username": "nobody", "role": "viewer"}, "username"), ({"role": "viewer"}, "username"),
    ({"username": ["bob"], "role": "viewer"}, "username"),
])
def test_bad_member_input_is_400_naming_the_field(api, user, other_user, body, field):
    team = membership.create_project(user, "team")
    r = api.post(f"/api/projects/{team.pk}/members/", body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content


@pytest.mark.parametrize("value", [0, -1, "2", 1.5, True, 10_001])
def test_a_bad_quota_is_400_naming_max_running(api, user, value):
    team = membership.create_project(user, "team")
    r = api.patch(f"/api/projects/{team.pk}/", {"max_running": value}, format="json")
    assert r.status_code == 400 and "max_running" in r.json(), r.content
    r = api.patch(f"/api/projects/{team.pk}/", {}, format="json")
    assert r.status_code == 400 and "max_running" in r.json(), r.content


def test_the_quota_is_set_and_cleared(api, user):
    team = membership.create_project(user, "team")
    assert api.patch(f"/api/projects/{team.pk}/", {"max_running": 4}, format="json").json()["max_running"] == 4
    assert api.patch(f"/api/projects/{team.pk}/", {"max_running": None}, format="json").json()["max_running"] is None


def test_a_project_keeps_at_least_one_admin(api, user, other_user):
    team = membership.create_project(user, "team")
    # alice, its only admin, can neither step down nor leave
    r = api.post(f"/api/projects/{team.pk}/members/", {"username": "alice", "role": "member"}, format="json")
    assert r.status_code == 400 and "only admin" in r.json()["role"][0]
    r = api.delete(f"/api/projects/{team.pk}/members/alice/")
    assert r.status_code == 400 and "only admin" in r.json()["username"][0]
    # with bob made admin she can; then bob is the one who must stay
    assert api.post(f"/api/projects/{team.pk}/members/", {"username": "bob", "role": "admin"},
                    format="json").status_code == 201
    assert api.delete(f"/api/projects/{team.pk}/members/alice/").status_code == 204
    bob = client_of(other_user)
    assert bob.delete(f"/api/projects/{team.pk}/members/bob/").status_code == 400
    assert api.get(f"/api/projects/{team.pk}/").status_code == 404  # alice is out
    assert list(Membership.objects.filter(project=team).values_list("user__username", "role")) == [("bob", "admin")]


def test_a_personal_project_keeps_its_user_as_admin(api, user, other_user):
    personal = personal_project(user)
    assert api.post(f"/api/projects/{personal.pk}/members/", {"username": "bob", "role": "admin"},
                    format="json").status_code == 201
    r = client_of(other_user).delete(f"/api/projects/{personal.pk}/members/alice/")
    assert r.status_code == 400 and "personal project" in r.json()["username"][0]
    r = client_of(other_user).post(f"/api/projects/{personal.pk}/members/", {"username": "alice", "role": "viewer"},
                                   format="json")
    assert r.status_code == 400 and "personal project" in r.json()["role"][0]


def test_a_member_may_leave_and_removing_a_stranger_is_400(api, user, other_user):
    team = membership.create_project(user, "team")
    Membership.objects.create(project=team, user=other_user, role="viewer")
    get_user_model().objects.create_user("carol", password="pw")
    assert api.delete(f"/api/projects/{team.pk}/members/carol/").status_code == 400
    assert client_of(other_user).delete(f"/api/projects/{team.pk}/members/bob/").status_code == 204
    assert client_of(other_user).get(f"/api/projects/{team.pk}/").status_code == 404


@pytest.mark.parametrize("pk", ["0", "abc", "99999999999999999999", "²"])
def test_a_project_id_that_is_no_project_is_404(api, pk):
    assert api.get(f"/api/projects/{pk}/").status_code == 404
    assert api.post(f"/api/projects/{pk}/members/", {"username": "alice", "role": "viewer"},
                    format="json").status_code == 404


def test_usage_counts_running_jobs_gpu_hours_of_the_last_7_days_and_bytes(user):
    team = membership.create_project(user, "team")
    now = timezone.now()
    hours = timedelta(hours=1)

    def job(status, queue, started, finished, stored=0):
        Job.objects.create(owner=user, project=team, kind="train", status=status, queue=queue, started_at=started,
                           finished_at=finished, bytes_stored=stored)

    job("succeeded", "gpu", now - 3 * hours, now - 1 * hours, stored=1000)  # 2 h
    job("succeeded", "gpu", now - timedelta(days=8), now - timedelta(days=6), stored=24)  # 1 day of it inside
    job("running", "gpu", now - 0.5 * hours, None)  # 0.5 h so far
    job("succeeded", "cpu", now - 5 * hours, now - 1 * hours, stored=1)  # no GPU
    job("succeeded", "gpu", now - timedelta(days=10), now - timedelta(days=9))  # before the window
    job("queued", "gpu", None, None)
    # another project's job counts for none of it
    Job.objects.create(owner=user, kind="train", status="running", queue="gpu", started_at=now - hours)
    got = membership.usage(team, now=now)
    assert got["running"] == 1 and got["bytes_stored"] == 1025
    assert got["gpu_hours_7d"] == pytest.approx(2 + 24 + 0.5, abs=1e-3)  # rounded to 3.6 s


def test_nul_in_names_is_400_naming_the_field(api, user):
    assert "name" in api.post("/api/projects/", {"name": "a\x00b"}, format="json").json()
    team = membership.create_project(user, "team")
    r = api.post(f"/api/projects/{team.pk}/members/", {"username": "a\x00", "role": "viewer"}, format="json")
    assert r.status_code == 400 and "username" in r.json()
    r = api.delete(f"/api/projects/{team.pk}/members/a%00b/")
    assert r.status_code == 400 and "username" in r.json()


def test_member_changes_are_in_the_project_audit_log(api, user, other_user):
    team = membership.create_project(user, "team")
    api.post(f"/api/projects/{team.pk}/members/", {"username": "bob", "role": "viewer"}, format="json")
    api.post(f"/api/projects/{team.pk}/members/", {"username": "bob", "role": "member"}, format="json")
    api.delete(f"/api/projects/{team.pk}/members/bob/")
    api.post(f"/api/projects/{team.pk}/members/", {"username": "nobody", "role": "member"}, format="json")  # refused
    log = api.get(f"/api/projects/{team.pk}/audit/").json()["results"]
    assert [(e["user"], e["action"], e["target"]) for e in log] == [
        ("alice", "member.remove", "member bob"), ("alice", "member.change", "member bob"),
        ("alice", "member.add", "member bob")]


def test_an_admin_turns_preemption_of_the_projects_low_jobs_off(api, user):
    team = api.post("/api/projects/", {"name": "careful team"}, format="json").json()
    r = api.patch(f"/api/projects/{team['id']}/", {"preemptible": False}, format="json")
    assert r.status_code == 200 and r.json()["preemptible"] is False and r.json()["max_running"] is None
    r = api.patch(f"/api/projects/{team['id']}/", {"preemptible": "no"}, format="json")
    assert r.status_code == 400 and "preemptible" in r.json(), r.content
