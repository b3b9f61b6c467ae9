"""A team in the browser: alice makes a project and adds bob; bob follows her running job live and
launches a job from her model; carol, no member, gets 404 on its pages."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from jobs.models import Artifact, Job
from jobs.services import cancel_job
from tests.helpers import wait_for_status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

JOB_URL = re.compile(r"/jobs/(\d+)/$")
PROJECT_URL = re.compile(r"/projects/(\d+)/$")
# a small rectified flow on two moons: seconds on a CPU
TRAIN = {"data": {"type": "moons"}, "objective": "rectified_flow", "steps": 40, "batch_size": 32, "width": 16,
         "depth": 1, "warmup_steps": 5, "checkpoint_every": 20, "eval_every": 1000, "log_every": 20,
         "eval_samples": 64, "seed": 3, "device": "cpu"}
# minutes on a CPU worker: still running while bob watches
LONG = {"nfe": 1000, "n_samples": 200000, "batch_size": 100, "device": "cpu"}


def api_post(page, path, body):
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(path, data=body, headers={"X-CSRFToken": token, "Referer": page.url})


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol", password="pw")


@pytest.fixture
def ends_live_jobs(db):
    yield
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def wait(job_id):  # in a thread of its own: Playwright's event loop runs in this one
        try:
            wait_for_status(job_id, {"succeeded", "failed", "cancelled"}, timeout=120)
        finally:
            connection.close()

    root = get_user_model().objects.create_superuser("root", password="pw")
    for job in Job.objects.filter(status__in=Job.ACTIVE):
        cancel_job(root, job.pk)
        with ThreadPoolExecutor(1) as pool:
            pool.submit(wait, job.pk).result()


@pytest.mark.worker
def test_alice_shares_a_project_with_bob_and_carol_sees_nothing(new_page, celery_worker, user, other_user, carol,
                                                                ends_live_jobs):
    alice = new_page(user)
    alice.goto("/projects/")
    alice.get_by_label("Name of a new project").fill("moons team")
    alice.get_by_role("button", name="Create project").click()
    alice.wait_for_url(PROJECT_URL)
    project = int(PROJECT_URL.search(alice.url).group(1))
    expect(alice.locator("#project-switch")).to_have_value(str(project))  # the new project is the current one
    alice.locator("#member-username").fill("bob")
    alice.locator("#member-role").select_option("member")
    alice.get_by_role("button", name="Add member").click()
    expect(alice.locator('tr[data-member="bob"] select')).to_have_value("member")

    trained = api_post(alice, "/api/jobs/", {"kind": "train", "params": TRAIN, "project": project})
    assert trained.status == 201 and trained.json()["project"] == project, trained.text()
    alice.goto(f"/jobs/{trained.json()['id']}/")
    expect(alice.locator("#status .badge")).to_have_text("succeeded", timeout=120_000)
    model = Artifact.objects.get(job_id=trained.json()["id"], name="model.safetensors")

    # bob switches to the team in the header; its jobs list follows the project's jobs live
    bob = new_page(other_user)
    bob.locator("#project-switch").select_option(str(project))
    expect(bob.locator("h1")).to_contain_text("moons team")
    expect(bob.locator(f'tr[data-job="{trained.json()["id"]}"] .owner')).to_have_text("alice")
    expect(bob.locator("#live-state")).to_have_text("live")
    running = api_post(alice, "/api/jobs/", {"kind": "sample", "params": LONG, "project": project})
    assert running.status == 201, running.text()
    expect(bob.locator("#new-jobs")).to_be_visible()  # her new job reached bob's socket
    bob.goto(f"/jobs/{running.json()['id']}/")
    expect(bob.locator("#job-project")).to_have_text("by alice in moons team")
    expect(bob.locator("#status .badge")).to_have_text("running", timeout=60_000)
    expect(bob.locator("#eta")).to_contain_text("left", timeout=60_000)  # progress events arrive live
    # members cancel only their own jobs: the page's Cancel answers bob with the API's refusal
    assert api_post(bob, f"/api/jobs/{running.json()['id']}/cancel/", {}).status == 403

    # bob launches a sample from alice's model, in the team
    bob.goto("/jobs/new/?kind=sample")
    expect(bob.locator("h1")).to_contain_text("moons team")
    bob.get_by_label("Model type").select_option(label="one of my models")
    choice = bob.get_by_label("Model artifact")
    expect(choice.locator(f'option[value="{model.pk}"]')).to_have_count(1)
    choice.select_option(str(model.pk))
    bob.get_by_label("NFE", exact=True).fill("4")
    bob.locator("#p-n_samples").fill("16")
    bob.get_by_role("button", name="Launch").click()
    bob.wait_for_url(JOB_URL)
    launched = Job.objects.get(pk=int(JOB_URL.search(bob.url).group(1)))
    assert launched.owner == other_user and launched.project_id == project
    assert list(launched.input_artifacts.values_list("id", flat=True)) == [model.pk]

    stranger = new_page(carol)
    for path in (f"/jobs/{running.json()['id']}/", f"/projects/{project}/", f"/jobs/{launched.pk}/"):
        assert stranger.goto(path).status == 404, path
    expect(stranger.locator("#project-switch option")).to_have_count(0)  # a 404 page has no header
    stranger.goto("/")
    expect(stranger.locator("#project-switch option")).to_have_count(1)  # her personal project only
    expect(stranger.locator("tr[data-job]")).to_have_count(0)


def test_project_pages_fit_a_narrow_screen(new_page, user, other_user):
    from jobs import membership
    from jobs.projects import Membership

    team = membership.create_project(user, "a project with a rather long name for a phone")
    Membership.objects.create(project=team, user=other_user, role="viewer")
    page = new_page(user, viewport={"width": 390, "height": 844})
    for url in ["/projects/", f"/projects/{team.pk}/"]:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, url
