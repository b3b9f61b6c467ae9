"""One Celery task runs every kind of job; the kind's runner comes from the registry."""
from __future__ import annotations

import json
import logging
import time
import traceback
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from ml.finite import Diverged, safe_result
from ml.reporting import Cancelled

from .events import broadcast, record
from .models import Artifact, Job, JobEvent
from .registry import get_kind
from .reporter import JobReporter
from .resolve import resolve_artifacts

log = logging.getLogger(__name__)


def job_dir(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job_id)


# the common case, as a work queue claims: one conditional update changes the row or nothing
_CLAIM_FIRST = """
WITH job AS (
    UPDATE {jobs} SET status = %(running)s, attempts = 1, worker = %(worker)s,
        started_at = coalesce(started_at, %(now)s), heartbeat_at = %(now)s, last_seq = last_seq + 1
    WHERE id = %(job_id)s AND status = %(queued)s AND attempts = 0 AND max_attempts > 0 AND NOT cancel_requested
    RETURNING *
), event AS (
    INSERT INTO {events} (job_id, seq, type, data, ts) SELECT id, last_seq, 'status', %(data)s::jsonb, %(now)s FROM job
)
SELECT * FROM job
"""


def _claim(job_id: int, worker: str) -> Job | None:
    """Mark the job running for this attempt, or return None if there is nothing to do.

    Idempotent against redelivery: a finished job is left alone, and so is a job another
    live worker is running (its heartbeat is fresh)."""
    job = _claim_first_attempt(job_id, worker)
    if job is not None:
        return job
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.cancel_requested:
            record(job, [("status", {"status": "cancelled"})],
                   {"status": Job.Status.CANCELLED, "finished_at": timezone.now()})
            return None
        stale = timezone.now() - timedelta(seconds=settings.LAB_WORKER_STALE_SECONDS)
        if job.status == Job.Status.RUNNING and job.worker != worker and job.heartbeat_at and job.heartbeat_at > stale:
            return None
        if job.attempts >= job.max_attempts:
            reason = f"gave up after {job.attempts} attempts: the worker was lost each time"
            record(job, [("status", {"status": "failed", "error": reason})],
                   {"status": Job.Status.FAILED, "error": reason, "finished_at": timezone.now()})
            return None
        resumed = job.attempts > 0
        now = timezone.now()
        claim = {"attempts": job.attempts + 1, "status": Job.Status.RUNNING, "worker": worker,
                 "started_at": job.started_at or now, "heartbeat_at": now}
        items = [("status", {"status": "running"})]
        if resumed:
            items.append(("log", {"text": f"attempt {claim['attempts']} of {job.max_attempts} on {worker} "
                                          f"(the previous worker was lost)"}))
        # the claim and its events: one update of the row this transaction already holds locked;
        # `running` is handed to the broker before the job starts (its thread would hold the GIL)
        rows = record(job, items, claim, wait=1.0)
        for field, value in claim.items():
            setattr(job, field, value)
        job.last_seq = rows[-1].seq
    return job


def _claim_first_attempt(job_id: int, worker: str) -> Job | None:
    """A queued job, never started, not cancelled: claimed in one statement (a lock, a select,
    an update, an insert and a commit were a third of the dispatch latency). Anything else
    takes the locked path of `_claim`."""
    now = timezone.now()
    data = {"status": Job.Status.RUNNING.value}
    sql = _CLAIM_FIRST.format(jobs=Job._meta.db_table, events=JobEvent._meta.db_table)
    job = next(iter(Job.objects.raw(sql, {"job_id": job_id, "worker": worker, "now": now, "data": json.dumps(data),
                                          "running": Job.Status.RUNNING, "queued": Job.Status.QUEUED})), None)
    if job is not None:
        # `running` is handed to the broker before the job starts (its thread would hold the GIL)
        broadcast(job.pk, job.owner_id, [JobEvent(job_id=job.pk, seq=job.last_seq, type="status", data=data, ts=now)],
                  wait=1.0)
    return job


def _finish(job: Job, attempt: int, status: str, fields: dict) -> bool:
    """Set the final state and its event in one transaction, once: only the attempt that
    holds the job may finish it. Retried while the database restarts; a write the database
    refuses (DataError, IntegrityError...) is no outage: the job then ends failed, saying why."""
    data = {"status": status, **({"error": fields["error"]} if fields.get("error") else {})}
    fields = {**fields, "status": status, "finished_at": timezone.now()}
    deadline = time.monotonic() + 120
    refused = False
    while True:
        try:
            with transaction.atomic():
                locked = Job.objects.select_for_update().only("status", "attempts").get(pk=job.pk)
                if locked.status != Job.Status.RUNNING or locked.attempts != attempt:
                    return False
                # the final status is the event clients wait for: hand it to the broker before returning
                record(job, [("status", data)], fields, wait=5.0)
                return True
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)  # back-off while the database restarts
        except DatabaseError as exc:
            if refused:
                raise
            refused = True
            log.warning("job %s: the database refused its final write", job.pk, exc_info=True)
            reason = (str(exc).strip().splitlines() or [""])[0][:500]  # PostgreSQL's sentence, not its CONTEXT lines
            error = f"the job's result could not be stored ({type(exc).__name__}: {reason})"
            data = {"status": Job.Status.FAILED.value, "error": error}
            fields = {**fields, "status": Job.Status.FAILED, "error": error, "result": None}


@shared_task(name="jobs.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    worker = run_job.request.hostname or "worker"
    job = _claim(job_id, worker)
    if job is None:
        return
    attempt = job.attempts
    kind = get_kind(job.kind)
    reporter = JobReporter(job, job_dir(job.pk))
    final, error, result = Job.Status.FAILED, "", None
    try:
        params = kind.params.model_validate(resolve_artifacts(job.params, job.owner))
        result = kind.runner(params, reporter)
        final = Job.Status.SUCCEEDED
    except Cancelled:
        final = Job.Status.CANCELLED
        Artifact.objects.filter(job=job).update(partial=True)
        reporter.log("cancelled: stopped at the last step boundary; artifacts written so far are kept, marked partial")
    except Diverged as exc:  # a final answer, not a fault: a rerun from the same seed diverges again
        error = str(exc)
        reporter.log(error)
        log.warning("job %s: %s", job.pk, error)
    except SoftTimeLimitExceeded:
        error = f"time limit of {kind.soft_time_limit} s for '{kind.name}' jobs exceeded"
    except Exception as exc:  # the job failed, not the platform: record why, keep the worker alive
        error = f"{type(exc).__name__}: {exc}"
        reporter.log(traceback.format_exc(limit=20))
        log.warning("job %s failed: %s", job.pk, error)
    try:
        reporter.close()
    finally:
        _finish(job, attempt, final, {"error": error, "result": safe_result(result),
                                      **({"progress": 1.0} if final == Job.Status.SUCCEEDED else {})})


def enqueue(job: Job) -> None:
    """Send the job to its queue once the row is committed (the worker must find it)."""
    kind = get_kind(job.kind)
    job_id, queue = job.pk, job.queue

    def send():
        try:
            run_job.apply_async(args=[job_id], queue=queue, soft_time_limit=kind.soft_time_limit,
                                time_limit=kind.time_limit)
        except Exception:  # broker unreachable: the job is stored and stays queued (the answer is not a 500)
            log.exception("job %s: could not send it to queue %s", job_id, queue)

    transaction.on_commit(send)
