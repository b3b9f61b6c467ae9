"""Heartbeat reaper and outbox: no job stays "running" on a dead worker, none stays "queued" on a lost message.

acks_late + reject_on_worker_lost bring a job back when a worker's *child* dies: the
main process requeues the message at once. When the whole worker (or its machine)
dies, its message stays unacked in Redis until the broker's visibility timeout (48 h),
and a Redis restart without persistence forgets every message. So each worker's main
process runs `sweep()` every LAB_REAPER_SECONDS:

- a RUNNING job whose heartbeat_at is older than LAB_WORKER_STALE_SECONDS goes back to
  QUEUED, waits for admission again (jobs/scheduler.py) and is sent to its queue (the next `_claim` counts the attempt and logs
  "attempt k of n"), or ends FAILED with the reason once it has used max_attempts. Both
  times are the database's (`now()`): a worker's clock never decides that another is lost;
- a QUEUED job the scheduler admitted whose message the broker never confirmed (`sent_at` null,
  the publish failed) LAB_OUTBOX_RESEND_SECONDS after it was stored is sent again;
- every admitted QUEUED job is sent again when the broker lost its data (a marker key this module
  keeps in Redis is gone; one sweeper wins it, SET NX), and on the first sweep that works
  after one that failed (the database or the broker was down: a worker may have taken a
  message and acked it without being able to claim its job);
- once every LAB_GC_SECONDS, the retention policy is applied (jobs/retention.py).

A duplicate message is harmless: `_claim` runs a job only while it is not finished and
not held by a live worker. Several workers sweep concurrently: stale rows are locked with
SKIP LOCKED and the WHERE clause is re-checked under the lock, so each stale job is handled once.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Now
from django.utils import timezone

from .events import record
from .models import Job
from .usage import close_runs

log = logging.getLogger(__name__)
BATCH = 200


class BrokerDown(Exception):
    """A message could not be sent: the sweep counts as failed, and the next one sends every job."""


def seconds_ago(seconds: float):
    return Now() - timedelta(seconds=seconds)


def give_up(job: Job, lost: str) -> None:
    """End a job (its row locked) whose every attempt was lost: failed, saying so."""
    from .tasks import job_dir
    from .transfer import settle_attempt  # with an object store, counts the job's objects

    reason = f"gave up after {job.attempts} attempts: {lost}"
    record(job, [("status", {"status": "failed", "error": reason})],
           {"status": Job.Status.FAILED, "error": reason, "finished_at": Now(),
            "bytes_stored": settle_attempt(job_dir(job), job.attempts)})
    close_runs(job.pk)


def lost_worker(job) -> str:
    """Why a running job's attempt is over; `job.silent` is the database's Now() - heartbeat_at."""
    return f"worker {job.worker or '?'} stopped beating ({job.silent.total_seconds():.0f} s without a heartbeat)"


def requeued(job) -> list[tuple[str, dict]]:
    """The events of a lost attempt's end: every attempt after the first starts from `queued`, whether
    the reaper requeued it or another worker's claim of the redelivered message came first."""
    text = f"{lost_worker(job)}; requeued for attempt {job.attempts + 1} of {job.max_attempts}"
    return [("log", {"text": text}), ("status", {"status": "queued"})]


def reap_stale() -> list[tuple[int, str]]:
    """Requeue or fail RUNNING jobs whose worker stopped beating. Returns [(job id, new status)]."""
    from .tasks import enqueue

    done = []
    with transaction.atomic():
        stale = Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.RUNNING, heartbeat_at__lt=seconds_ago(settings.LAB_WORKER_STALE_SECONDS),
        ).annotate(silent=Now() - F("heartbeat_at")).order_by("heartbeat_at")[:BATCH]
        for job in stale:
            if job.attempts >= job.max_attempts:
                give_up(job, lost_worker(job))
                done.append((job.pk, Job.Status.FAILED))
            else:
                # back to waiting for admission: its slot may be taken meanwhile (jobs/scheduler.py)
                record(job, requeued(job),
                       {"status": Job.Status.QUEUED, "heartbeat_at": None, "sent_at": None, "admitted_at": None})
                close_runs(job.pk)
                enqueue(job)  # a scheduler pass once this transaction commits
                done.append((job.pk, Job.Status.QUEUED))
    for job_id, status in done:
        log.warning("reaper: job %s %s", job_id, "requeued" if status == Job.Status.QUEUED else "failed")
    return done


def _marker_key() -> str:
    return f"{settings.LAB_KEY_PREFIX}broker-epoch"


def resend(jobs) -> list[int]:
    """Send each job's message again, oldest first; raises BrokerDown at the first the broker refuses."""
    from .tasks import publish

    ids = []
    for job in jobs:
        if not publish(job):
            raise BrokerDown(f"sent {len(ids)} jobs, then the broker refused job {job.pk}")
        ids.append(job.pk)
    return ids


def resend_queued(unconfirmed_only: bool = False) -> list[int]:
    """Send admitted QUEUED jobs again: all of them, or those whose message was not confirmed in
    time. Jobs the scheduler has not admitted have no message to lose: its passes send them."""
    queued = Job.objects.filter(status=Job.Status.QUEUED, admitted_at__isnull=False)
    if unconfirmed_only:
        queued = queued.filter(sent_at__isnull=True, created_at__lt=seconds_ago(settings.LAB_OUTBOX_RESEND_SECONDS))
    return resend(list(queued.order_by("created_at", "id")))


def resend_if_broker_lost() -> list[int]:
    """If Redis lost its data since the last sweep, send every QUEUED job's message again."""
    from . import workers

    if not workers.client().set(_marker_key(), timezone.now().isoformat(), nx=True):
        return []  # the marker survived: so did the messages (or another sweeper re-sent them)
    ids = resend_queued()
    if ids:
        log.warning("reaper: the broker lost its messages; re-sent %d queued jobs", len(ids))
    return ids


def sweep(after_outage: bool = False) -> list[int]:
    """One pass; returns the queued jobs it sent again. `after_outage`: the previous pass failed,
    so every queued job is sent again."""
    reap_stale()
    ids = resend_if_broker_lost()
    if ids:
        return ids
    ids = resend_queued(unconfirmed_only=not after_outage)
    if ids:
        log.warning("reaper: re-sent %d queued jobs %s", len(ids),
                    "after an outage" if after_outage else "whose message the broker never confirmed")
    return ids


def start(period: float) -> threading.Event:
    """Sweep now and then every `period` seconds in a daemon thread; set the event to stop."""
    from . import retention

    stop = threading.Event()

    def loop():
        failed = False
        while not stop.is_set():
            try:
                sweep(after_outage=failed)
                failed = False
            except Exception:  # database or broker restarting: sweep again next period
                failed = True
                log.warning("reaper sweep failed", exc_info=True)
            try:  # a sweep whose controller step was lost with its process goes on (jobs/sweeps/controller.py)
                from .sweeps.controller import advance_stalled

                advance_stalled()
            except Exception:
                log.warning("sweeps: advancing stalled sweeps failed", exc_info=True)
            # its own try: a folder the collector cannot remove is no outage, and must not make the
            # next sweep send every queued job again
            try:
                retention.sweep_if_due()  # far less often: it walks the job folders
            except Exception:
                log.warning("retention sweep failed", exc_info=True)
            finally:
                connection.close()  # never keep a connection across a database restart
            stop.wait(period)

    threading.Thread(target=loop, name="reaper", daemon=True).start()
    return stop
