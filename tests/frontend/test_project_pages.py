"""The project switcher and the project pages, rendered by Django."""
import pytest

from jobs import membership
from jobs.models import Job
from jobs.projects import Membership, personal_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, user):
    client.force_login(user)
    return client


def test_the_switcher_picks_the_project_the_jobs_list_and_new_job_form_show(alice, user, other_user):
    team = membership.create_project(other_user, "team")
    Membership.objects.create(project=team, user=user, role="viewer")
    Job.objects.create(owner=user, kind="sample", name="alice-own", status="succeeded")
    Job.objects.create(owner=other_user, project=team, kind="sample", name="bob-team", status="succeeded")
    html = alice.get("/").content.decode()
    assert "alice-own" in html and "bob-team" not in html  # the personal project by default
    assert f'<option value="{team.pk}" >team</option>' in html
    r = alice.post("/projects/switch/", {"project": team.pk, "next": "/compare/"})
    assert r.status_code == 302 and r["Location"] == "/compare/"
    html = alice.get("/").content.decode()
    assert "bob-team" in html and "alice-own" not in html and '<td class="owner">bob</td>' in html
    assert f'"project": {team.pk}' in alice.get("/jobs/new/").content.decode()  # the form launches there
    # a job page's project is its own: switching from one goes to the jobs list
    assert alice.post("/projects/switch/", {"project": personal_project(user).pk, "next": "/jobs/3/"})["Location"] == "/"


def test_switching_to_a_project_one_is_not_in_is_404_and_a_left_one_is_forgotten(alice, user, other_user):
    team = membership.create_project(other_user, "team")
    assert alice.post("/projects/switch/", {"project": team.pk}).status_code == 404
    assert alice.post("/projects/switch/", {"project": "x"}).status_code == 404
    m = Membership.objects.create(project=team, user=user, role="member")
    assert alice.post("/projects/switch/", {"project": team.pk}).status_code == 302
    m.delete()
    assert "<h1>Jobs <span class=\"muted\">of alice</span>" in alice.get("/").content.decode()


def test_the_project_page_shows_members_and_usage_and_admins_get_the_forms(alice, client, user, other_user):
    team = membership.create_project(user, "team")
    Membership.objects.create(project=team, user=other_user, role="viewer")
    Job.objects.create(owner=user, project=team, kind="train", status="succeeded", bytes_stored=2048)
    html = alice.get(f"/projects/{team.pk}/").content.decode()
    assert 'data-member="bob"' in html and 'id="add-member"' in html and 'data-bytes="2048"' in html
    assert alice.post(f"/projects/{team.pk}/members/", {"username": "bob", "role": "member"}).status_code == 302
    assert Membership.objects.get(project=team, user=other_user).role == "member"
    alice.post(f"/projects/{team.pk}/members/", {"username": "bob", "remove": "1"})
    assert not Membership.objects.filter(project=team, user=other_user).exists()
    # a refusal is said on the page, not a 500
    r = alice.post(f"/projects/{team.pk}/members/", {"username": "nobody", "role": "member"}, follow=True)
    assert "no active user" in r.content.decode()
    # a viewer reads the page without the forms; a stranger gets 404
    Membership.objects.create(project=team, user=other_user, role="viewer")
    client.force_login(other_user)
    html = client.get(f"/projects/{team.pk}/").content.decode()
    assert 'id="add-member"' not in html and '<td class="role">admin</td>' in html
    assert client.post(f"/projects/{team.pk}/members/", {"username": "bob", "role": "admin"}).status_code == 302
    assert Membership.objects.get(project=team, user=other_user).role == "viewer"
    Membership.objects.filter(project=team, user=other_user).delete()
    assert client.get(f"/projects/{team.pk}/").status_code == 404
    assert client.post(f"/projects/{team.pk}/members/", {"username": "bob", "role": "admin"}).status_code == 404


def test_a_project_is_made_from_the_projects_page(alice, user):
    r = alice.post("/projects/", {"name": "new team"})
    made = Membership.objects.get(user=user, project__name="new team")
    assert made.role == "admin" and r["Location"] == f"/projects/{made.project_id}/"
    r = alice.post("/projects/", {"name": ""}, follow=True)
    assert "a project needs a name" in r.content.decode()


def test_an_admin_turns_preemption_off_and_on_from_the_project_page_and_a_viewer_cannot(alice, client, user,
                                                                                       other_user):
    from jobs.projects import Project

    team = membership.create_project(user, "team")
    assert Project.objects.get(pk=team.pk).preemptible  # the default: docs/scheduling.md
    html = alice.get(f"/projects/{team.pk}/").content.decode()
    assert 'id="preemptible"' in html and 'id="usage-preemptible">yes<' in html
    # an unticked box sends only the hidden 0
    r = alice.post(f"/projects/{team.pk}/members/", {"preemptible": "0"}, follow=True)
    assert not Project.objects.get(pk=team.pk).preemptible
    assert "no longer stop" in r.content.decode() and 'id="usage-preemptible">no<' in r.content.decode()
    alice.post(f"/projects/{team.pk}/members/", {"preemptible": ["0", "1"]})
    assert Project.objects.get(pk=team.pk).preemptible
    Membership.objects.create(project=team, user=other_user, role="viewer")
    client.force_login(other_user)
    assert 'id="preemptible"' not in client.get(f"/projects/{team.pk}/").content.decode()
    client.post(f"/projects/{team.pk}/members/", {"preemptible": "0"})
    assert Project.objects.get(pk=team.pk).preemptible
