"""jobs/reaper.py on the test database: stale running jobs are requeued once, or failed past max_attempts."""
import threading

import pytest
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from jobs import reaper, workers
from jobs.eventlog import append_events
from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db(transaction=True)
LONG_AGO = timezone.timedelta(hours=1)


@pytest.fixture
def make_job(user):
    """Jobs on a queue no worker serves: what the reaper sends stays in the broker, and a worker
    another test started cannot run them under our feet."""

    def make():
        # admitted by the scheduler (jobs/scheduler.py): only those have a message the broker may lose
        job = Job.objects.create(owner=user, kind="sample", params={}, queue="unserved-reaper-test",
                                 admitted_at=timezone.now())
        append_events(job.pk, [("status", {"status": "queued"})])
        return job

    return make


def running(job, attempts=1, heartbeat=None):
    Job.objects.filter(pk=job.pk).update(status="running", attempts=attempts, worker="gone@host",
                                         heartbeat_at=heartbeat or timezone.now() - LONG_AGO)
    return job.pk


def test_a_stale_job_is_requeued_with_the_reason_and_a_live_one_is_left_alone(make_job):
    stale = running(make_job())
    live = running(make_job(), heartbeat=timezone.now())
    queued = make_job().pk
    assert reaper.reap_stale() == [(stale, "queued")]

    job = Job.objects.get(pk=stale)
    assert job.status == "queued" and job.heartbeat_at is None and job.attempts == 1
    events = list(JobEvent.objects.filter(job_id=stale).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-2].type == "log" and "gone@host stopped beating" in events[-2].data["text"]
    assert "attempt 2 of 3" in events[-2].data["text"]
    assert events[-1].data == {"status": "queued"}
    assert Job.objects.get(pk=live).status == "running" and Job.objects.get(pk=queued).status == "queued"


def test_past_max_attempts_a_stale_job_fails_with_the_reason(make_job):
    pk = running(make_job(), attempts=3)
    assert reaper.reap_stale() == [(pk, "failed")]
    job = Job.objects.get(pk=pk)
    assert job.status == "failed" and job.finished_at is not None
    assert job.error.startswith("gave up after 3 attempts: worker gone@host stopped beating")
    last = JobEvent.objects.filter(job_id=pk).order_by("-seq").first()
    assert last.data == {"status": "failed", "error": job.error}


def test_concurrent_sweeps_handle_each_stale_job_exactly_once(make_job):
    ids = {running(make_job()) for _ in range(30)}
    results, barrier = [], threading.Barrier(3)

    def sweep():
        barrier.wait()
        try:
            results.extend(reaper.reap_stale())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(pk for pk, _ in results) == sorted(ids)
    for pk in ids:
        texts = JobEvent.objects.filter(job_id=pk, type="log").values_list("data__text", flat=True)
        assert sum("stopped beating" in t for t in texts) == 1


def test_queued_jobs_are_sent_again_when_the_broker_lost_its_data(make_job):
    workers.client().delete(reaper._marker_key())
    ids = [make_job().pk for _ in range(3)]
    assert reaper.resend_if_broker_lost() == ids  # first sweep against an empty broker
    assert reaper.resend_if_broker_lost() == []  # the marker is there: nothing was lost
    workers.client().delete(reaper._marker_key())  # what a Redis restart without persistence does
    Job.objects.filter(pk=ids[0]).update(status="succeeded")
    assert reaper.resend_if_broker_lost() == ids[1:]


def test_the_outbox_sends_again_what_the_broker_never_confirmed_and_everything_after_an_outage(make_job, settings):
    settings.LAB_OUTBOX_RESEND_SECONDS = 5
    workers.client().set(reaper._marker_key(), "kept")  # the broker kept its data: only the outbox can tell
    unsent, fresh, sent = make_job(), make_job(), make_job()
    Job.objects.filter(pk__in=[unsent.pk, sent.pk]).update(created_at=Now() - LONG_AGO)
    Job.objects.filter(pk=sent.pk).update(sent_at=Now())
    # `fresh` may still be on its way from the web process: left alone for LAB_OUTBOX_RESEND_SECONDS
    assert reaper.sweep() == [unsent.pk]
    assert Job.objects.get(pk=unsent.pk).sent_at is not None  # the broker took it this time
    assert reaper.sweep() == []
    # a sweep that failed (database or broker down) may hide a message acked by a claim that failed
    assert reaper.sweep(after_outage=True) == [unsent.pk, sent.pk, fresh.pk]  # oldest first


def test_a_requeued_job_counts_as_unsent_until_its_message_is_confirmed(make_job):
    pk = running(make_job())
    Job.objects.filter(pk=pk).update(sent_at=Now())
    assert reaper.reap_stale() == [(pk, "queued")]
    # cleared by the requeue: the job waits for admission again, and no worker serves its queue
    job = Job.objects.get(pk=pk)
    assert job.sent_at is None and job.admitted_at is None
    assert reaper.sweep() == []  # nothing admitted is unconfirmed: the scheduler sends it when a slot is free


def test_jobs_the_scheduler_has_not_admitted_are_not_sent_by_the_outbox(make_job):
    workers.client().delete(reaper._marker_key())
    waiting = make_job()
    Job.objects.filter(pk=waiting.pk).update(admitted_at=None)
    admitted = make_job()
    assert reaper.resend_if_broker_lost() == [admitted.pk]
