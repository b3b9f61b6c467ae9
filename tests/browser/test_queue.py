"""Queue positions in a real browser: the jobs list follows them live as the scheduler admits, and
the Queue page shows what runs and what waits, in order, with the reason."""
from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs import scheduler, workers
from jobs.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
QUEUE = "browser-queue-test"  # served by a worker record only this test writes: nothing runs the jobs


@pytest.fixture
def one_slot():
    workers.beat("browser-q@test", [QUEUE], "CPU", concurrency=1)
    yield
    workers.forget("browser-q@test")


def test_positions_move_live_on_the_jobs_list_and_the_queue_page_shows_the_order(new_page, user, one_slot):
    now = timezone.now()
    busy = Job.objects.create(owner=user, kind="sample", name="busy", status="running", worker="browser-q@test",
                              started_at=now, admitted_at=now, queue=QUEUE)
    first = Job.objects.create(owner=user, kind="sample", name="first", queue=QUEUE)
    second = Job.objects.create(owner=user, kind="sample", name="second", queue=QUEUE)
    page = new_page(user)
    expect(page.locator(f'[data-testid="waiting-{first.pk}"]')).to_have_text(
        f"#1 in queue: waiting for a worker on queue {QUEUE}")
    expect(page.locator(f'[data-testid="waiting-{second.pk}"]')).to_have_text(f"#2 in queue: 1 job ahead of you on {QUEUE}")
    expect(page.locator("#live-state")).to_have_text("live")
    page.evaluate("window.__notReloaded = true")

    Job.objects.filter(pk=busy.pk).update(status="succeeded", finished_at=timezone.now())
    scheduler.schedule()  # what the worker does when a job ends: `first` takes the slot
    expect(page.locator(f'[data-testid="waiting-{second.pk}"]')).to_have_text(
        f"#1 in queue: waiting for a worker on queue {QUEUE}")
    expect(page.locator(f'[data-testid="waiting-{first.pk}"]')).to_have_text("")
    assert page.evaluate("window.__notReloaded === true")  # live, not by a reload

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    section = page.locator(f'section[data-queue="{QUEUE}"]')
    expect(section.locator("h2")).to_contain_text("1 slot on browser-q@test")
    waiting = section.locator("table").nth(1).locator("tbody tr")
    expect(waiting).to_have_count(1)
    expect(waiting.first.locator("td").first).to_have_text("1")
    expect(waiting.first).to_contain_text("second")
    expect(waiting.first.locator("td.reason")).to_have_text(f"waiting for a worker on queue {QUEUE}")
