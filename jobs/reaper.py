"""Heartbeat reaper: no job stays "running" on a dead worker, none stays "queued" on a lost message.

acks_late + reject_on_worker_lost bring a job back when a worker's *child* dies: the
main process requeues the message at once. When the whole worker (or its machine)
dies, its message stays unacked in Redis until the broker's visibility timeout (48 h),
and a Redis restart without persistence forgets every message. So each worker's main
process runs `sweep()` every LAB_REAPER_SECONDS:

- a RUNNING job whose heartbeat_at is older than LAB_WORKER_STALE_SECONDS goes back to
  QUEUED and is sent to its queue again (the next `_claim` counts the attempt and logs
  "attempt k of n"), or ends FAILED with the reason once it has used max_attempts;
- once every LAB_GC_SECONDS, the retention policy is applied (jobs/retention.py);
- when the broker lost its data (a marker key this module keeps in Redis is gone), the
  messages of all QUEUED jobs are sent again. One sweeper wins the marker (SET NX), and a
  duplicate message is harmless: `_claim` runs a job only while it is not finished and
  not held by a live worker.

Several workers sweep concurrently: stale rows are locked with SKIP LOCKED and the
WHERE clause is re-checked under the lock, so each stale job is handled once.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .events import record
from .models import Job

log = logging.getLogger(__name__)
BATCH = 200


def reap_stale(now=None) -> list[tuple[int, str]]:
    """Requeue or fail RUNNING jobs whose worker stopped beating. Returns [(job id, new status)]."""
    from .storage import folder_bytes
    from .tasks import enqueue, job_dir

    now = now or timezone.now()
    stale_before = now - timedelta(seconds=settings.LAB_WORKER_STALE_SECONDS)
    done = []
    with transaction.atomic():
        stale = Job.objects.select_for_update(skip_locked=True).filter(
            status=Job.Status.RUNNING, heartbeat_at__lt=stale_before).order_by("heartbeat_at")[:BATCH]
        for job in stale:
            silent = (now - job.heartbeat_at).total_seconds()
            lost = f"worker {job.worker or '?'} stopped beating ({silent:.0f} s without a heartbeat)"
            if job.attempts >= job.max_attempts:
                reason = f"gave up after {job.attempts} attempts: {lost}"
                record(job, [("status", {"status": "failed", "error": reason})],
                       {"status": Job.Status.FAILED, "error": reason, "finished_at": now,
                        "bytes_stored": folder_bytes(job_dir(job))})
                done.append((job.pk, Job.Status.FAILED))
            else:
                text = f"{lost}; requeued for attempt {job.attempts + 1} of {job.max_attempts}"
                record(job, [("log", {"text": text}), ("status", {"status": "queued"})],
                       {"status": Job.Status.QUEUED, "heartbeat_at": None})
                enqueue(job)  # sent once this transaction commits
                done.append((job.pk, Job.Status.QUEUED))
    for job_id, status in done:
        log.warning("reaper: job %s %s", job_id, "requeued" if status == Job.Status.QUEUED else "failed")
    return done


def _marker_key() -> str:
    return f"{settings.LAB_KEY_PREFIX}broker-epoch"


def resend_if_broker_lost() -> list[int]:
    """If Redis lost its data since the last sweep, send every QUEUED job's message again."""
    from . import workers
    from .tasks import enqueue

    if not workers.client().set(_marker_key(), timezone.now().isoformat(), nx=True):
        return []  # the marker survived: so did the messages (or another sweeper re-sent them)
    ids = []
    with transaction.atomic():
        for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
            enqueue(job)
            ids.append(job.pk)
    if ids:
        log.warning("reaper: the broker lost its messages; re-sent %d queued jobs", len(ids))
    return ids


def sweep() -> None:
    reap_stale()
    resend_if_broker_lost()


def start(period: float) -> threading.Event:
    """Sweep now and then every `period` seconds in a daemon thread; set the event to stop."""
    from . import retention

    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                sweep()
                retention.sweep_if_due()  # far less often: it walks the job folders
            except Exception:  # database or broker restarting: sweep again next period
                log.warning("reaper sweep failed", exc_info=True)
            finally:
                connection.close()  # never keep a connection across a database restart
            stop.wait(period)

    threading.Thread(target=loop, name="reaper", daemon=True).start()
    return stop
