"""The one task's claim: atomic, idempotent against redelivery, capped by max_attempts."""
import pytest
from django.utils import timezone

from jobs.models import Job, JobEvent
from jobs.tasks import _claim

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_finished_job_is_not_claimed_again(make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status="succeeded", finished_at=timezone.now())
    assert _claim(job.pk, "w1") is None
    assert Job.objects.get(pk=job.pk).attempts == 0


def test_a_missing_job_is_ignored():
    assert _claim(987654321, "w1") is None


def test_claim_marks_running_and_counts_the_attempt(make_job):
    job = make_job()
    claimed = _claim(job.pk, "w1")
    assert claimed.status == "running" and claimed.attempts == 1 and claimed.worker == "w1"
    statuses = list(JobEvent.objects.filter(job=job, type="status").values_list("data__status", flat=True))
    assert statuses == ["queued", "running"]


def test_a_job_running_on_a_live_worker_is_not_taken_by_another(make_job):
    job = make_job()
    _claim(job.pk, "w1")
    assert _claim(job.pk, "w2") is None


def test_a_redelivered_job_of_a_lost_worker_is_resumed_and_says_so(make_job):
    job = make_job()
    _claim(job.pk, "w1")
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    again = _claim(job.pk, "w2")
    assert again.attempts == 2 and again.worker == "w2"
    logs = list(JobEvent.objects.filter(job=job, type="log").values_list("data__text", flat=True))
    assert any("attempt 2" in t for t in logs)
    # claimed before the reaper requeued it: the history the reaper would have written
    assert logs[0].startswith("worker w1 stopped beating (36") and logs[0].endswith(
        f"s without a heartbeat); requeued for attempt 2 of {job.max_attempts}")
    statuses = list(JobEvent.objects.filter(job=job, type="status").order_by("seq").values_list("data__status", flat=True))
    assert statuses == ["queued", "running", "queued", "running"]


def test_a_job_whose_pool_process_died_under_a_live_worker_goes_on_running(make_job):
    job = make_job()
    _claim(job.pk, "w1")
    again = _claim(job.pk, "w1")  # the worker's main process redelivers at once; its heartbeat is fresh
    assert again.attempts == 2
    statuses = list(JobEvent.objects.filter(job=job, type="status").order_by("seq").values_list("data__status", flat=True))
    assert statuses == ["queued", "running", "running"]


def test_past_max_attempts_the_job_fails_with_the_reason(make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(attempts=3, max_attempts=3, status="running",
                                         heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    assert _claim(job.pk, "w2") is None
    job.refresh_from_db()
    assert job.status == "failed" and "gave up after 3 attempts" in job.error


def test_a_cancelled_queued_job_never_runs(make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert _claim(job.pk, "w1") is None
    assert Job.objects.get(pk=job.pk).status == "cancelled"


def test_a_final_write_the_database_refuses_ends_the_job_failed_at_once_saying_why(make_job):
    import time

    from jobs.tasks import _finish

    job = _claim(make_job().pk, "w1")
    t0 = time.monotonic()
    # jsonb has no NaN: PostgreSQL refuses this row (a DataError), which no retry can fix
    assert _finish(job, 1, "succeeded", {"error": "", "result": {"final_loss": float("nan")}}) is True
    assert time.monotonic() - t0 < 10  # not the 120 s of outage retries
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1 and job.result is None
    assert job.error.startswith("the job's result could not be stored (DataError: ")
    final = JobEvent.objects.filter(job=job, type="status").order_by("seq").last()
    assert final.data == {"status": "failed", "error": job.error}
