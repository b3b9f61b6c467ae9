"""GET /api/queue/ and the Queue page: what runs, what waits in order and why, the day's shares;
other projects' jobs keep their place without their names."""
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import workers
from jobs.models import Job, JobRun

QUICK = {"sampler": "ddim", "nfe": 5, "n_samples": 100, "exact_subset": 0}


@pytest.fixture
def one_gpu_slot():
    workers.beat("queue-test@host", ["gpu"], "CPU", concurrency=1)
    yield
    workers.forget("queue-test@host")


def test_the_queue_lists_running_waiting_in_order_and_shares(api, user, other_user, one_gpu_slot):
    now = timezone.now()
    busy = Job.objects.create(owner=other_user, kind="sample", name="theirs", status="running",
                              worker="queue-test@host", started_at=now, admitted_at=now)
    JobRun.objects.create(job=busy, owner=other_user, project=busy.project, queue="gpu", worker="queue-test@host",
                          started_at=now - timedelta(seconds=300))
    mine = Job.objects.create(owner=user, kind="sample", name="mine-1")
    JobRun.objects.create(job=mine, owner=user, project=mine.project, queue="gpu", started_at=now - timedelta(hours=2),
                          ended_at=now - timedelta(hours=2) + timedelta(seconds=100))
    second = Job.objects.create(owner=user, kind="sample", name="mine-2")
    theirs = Job.objects.create(owner=other_user, kind="sample", name="theirs-waiting")
    [gpu] = [q for q in api.get("/api/queue/").json() if q["queue"] == "gpu"]
    assert gpu["workers"] == ["queue-test@host"] and gpu["slots"] == 1
    assert gpu["running"] == [{"id": None, "name": "", "owner": None, "kind": None, "priority": "normal",
                               "worker": "queue-test@host", "started_at": gpu["running"][0]["started_at"]}]
    # bob holds the one slot: alice's first job goes first; then both hold one, and alice's 100 s of
    # usage are less than bob's 300 s: her second, then bob's
    assert [(w["id"], w["queue_position"], w["waiting_reason"]) for w in gpu["waiting"]] == [
        (mine.pk, 1, "waiting for a worker on queue gpu"), (second.pk, 2, "1 job ahead of you on gpu"),
        (None, 3, "2 jobs ahead of you on gpu")]
    assert theirs.pk not in [w["id"] for w in gpu["waiting"]]
    shares = {s["user"]: s for s in gpu["shares"]}
    assert set(shares) == {"alice", "other projects"}
    # 100 s of alice's against bob's 300 s and counting (the request comes a moment later)
    assert shares["alice"]["seconds"] == pytest.approx(100, abs=0.2)
    # seconds are rounded to 0.1 s in the answer, the share is not: 0.05 s in 400 s
    assert shares["alice"]["share"] == pytest.approx(100 / (100 + shares["other projects"]["seconds"]), abs=2e-4)
    assert 300 <= shares["other projects"]["seconds"] < 310


def test_the_queue_page_renders(api, user):
    from django.test import Client

    c = Client()
    c.force_login(user)
    r = c.get("/queue/")
    assert r.status_code == 200 and b"page_queue.js" in r.content


def test_the_job_the_next_pass_admits_answers_nulls_not_a_place_beyond_the_ranking(api, user, one_gpu_slot):
    """A slot is free and no pass has run yet (as between a submission's commit and its pass, or a claim
    and the list's read): the policy's pick is no longer waiting on anything, the next one is first in line."""
    pick = Job.objects.create(owner=user, kind="sample", name="pick", params=QUICK)
    after = Job.objects.create(owner=user, kind="sample", name="after", params=QUICK)
    rows = {j["id"]: j for j in api.get("/api/jobs/?status=queued").json()["results"]}
    assert (rows[pick.pk]["queue_position"], rows[pick.pk]["waiting_reason"]) == (None, None)
    assert (rows[after.pk]["queue_position"], rows[after.pk]["waiting_reason"]) == (
        1, "waiting for a worker on queue gpu")
    api.force_login(user)
    page = api.get("/").content.decode()  # the jobs list says the same
    assert "more than" not in page and "waiting for a worker on queue gpu" in page
