"""Deleting a job from its page and from the jobs list, in a real browser, on a job a real worker ran."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.models import Job
from tests.browser.test_dashboard import api_post
from tests.helpers import job_files

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.mark.worker
def test_delete_a_finished_job_from_its_page_after_confirming(new_page, celery_worker, user):
    page = new_page(user)
    made = api_post(page, "/api/jobs/", {"kind": "sample", "params": {"nfe": 8, "n_samples": 500}})
    assert made.status == 201, made.text()
    page.goto(f"/jobs/{made.json()['id']}/")
    expect(page.locator("#status .badge")).to_have_text("succeeded", timeout=60_000)
    job = Job.objects.get(pk=made.json()["id"])
    assert job_files(job) and job.bytes_stored > 0
    confirm = page.get_by_role("alertdialog")
    expect(confirm).to_be_hidden()

    page.get_by_role("button", name="Delete", exact=True).click()  # asks first, deletes nothing
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Delete this job for good?")
    page.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()
    assert Job.objects.filter(pk=job.pk).exists() and job_files(job)

    page.get_by_role("button", name="Delete", exact=True).click()
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url(f"**/?deleted={job.pk}")
    expect(page.get_by_role("status").filter(has_text=f"Job #{job.pk} was deleted")).to_be_visible()
    expect(page.locator(f'tr[data-job="{job.pk}"]')).to_have_count(0)
    assert not Job.objects.filter(pk=job.pk).exists() and not job_files(job)
    assert page.request.get(f"/api/jobs/{job.pk}/").status == 404


@pytest.mark.worker
def test_delete_a_finished_job_from_the_jobs_list_after_confirming(new_page, celery_worker, user, make_job,
                                                                  artifacts_dir):
    page = new_page(user)
    made = api_post(page, "/api/jobs/", {"kind": "sample", "params": {"nfe": 8, "n_samples": 500}})
    assert made.status == 201, made.text()
    page.goto(f"/jobs/{made.json()['id']}/")  # its page follows it until it ends
    expect(page.locator("#status .badge")).to_have_text("succeeded", timeout=60_000)
    job = Job.objects.get(pk=made.json()["id"])
    waiting = make_job(kind="sample", params={"nfe": 5, "n_samples": 10})  # never sent: it stays queued
    assert job_files(job) and job.bytes_stored > 0
    page.goto("/")
    row = page.locator(f'tr[data-job="{job.pk}"]')
    confirm = page.get_by_role("alertdialog")
    expect(row).to_have_count(1)
    expect(confirm).to_be_hidden()
    # a queued job cannot be deleted: it has no Delete button (the API would answer 409)
    expect(page.get_by_role("button", name=f"Delete job {waiting.pk}", exact=True)).to_be_hidden()

    delete = page.get_by_role("button", name=f"Delete job {job.pk}", exact=True)
    delete.click()  # asks first, deletes nothing
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(f"Delete job #{job.pk} for good?")
    page.screenshot(path=str(artifacts_dir / "jobs_list_delete.png"))
    page.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()
    assert Job.objects.filter(pk=job.pk).exists() and job_files(job)

    delete.click()
    page.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("status").filter(has_text=f"Job #{job.pk} was deleted")).to_be_visible()
    expect(row).to_have_count(0)
    expect(page.locator(f'tr[data-job="{waiting.pk}"]')).to_have_count(1)
    assert not Job.objects.filter(pk=job.pk).exists() and not job_files(job)
    assert page.request.get(f"/api/jobs/{job.pk}/").status == 404
