"""One Celery task runs every kind of job; the kind's runner comes from the registry."""
from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.db.models.functions import Now
from django.db.utils import DatabaseError
from django.utils import timezone

from ml.finite import Diverged, safe_result
from ml.reporting import Cancelled

from .dbretry import DB_DOWN, retry_while_db_down
from .eventlog import Fenced
from .events import broadcast, record
from .models import Artifact, Job, JobEvent
from .reaper import give_up, seconds_ago
from .registry import get_kind
from .reporter import JobReporter
from .resolve import resolve_artifacts
from .storage import claim_folder, settle

log = logging.getLogger(__name__)


def job_dir(job: Job) -> Path:
    """The job's folder, across its attempts: its published artifacts, and one working folder per
    attempt (jobs/reporter.py). Named by its storage key, which never repeats (its id does, after a
    database reset)."""
    return Path(settings.MEDIA_ROOT) / "jobs" / str(job.storage_key)


# the common case, as a work queue claims: one conditional update changes the row or nothing
_CLAIM_FIRST = """
WITH job AS (
    UPDATE {jobs} SET status = %(running)s, attempts = 1, worker = %(worker)s,
        started_at = coalesce(started_at, %(now)s), heartbeat_at = now(), last_seq = last_seq + 1
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
    # a heartbeat is fresh on the database's clock, which stamped it: workers' clocks may disagree
    fresh = ExpressionWrapper(Q(heartbeat_at__gt=seconds_ago(settings.LAB_WORKER_STALE_SECONDS)),
                              output_field=BooleanField())
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).annotate(beating=fresh).first()
        if job is None or job.is_finished:
            return None
        if job.cancel_requested:
            record(job, [("status", {"status": "cancelled"})],
                   {"status": Job.Status.CANCELLED, "finished_at": timezone.now()})
            return None
        if job.status == Job.Status.RUNNING and job.worker != worker and job.beating:
            return None
        if job.attempts >= job.max_attempts:
            give_up(job, "the worker was lost each time")
            return None
        resumed = job.attempts > 0
        now = timezone.now()
        claim = {"attempts": job.attempts + 1, "status": Job.Status.RUNNING, "worker": worker,
                 "started_at": job.started_at or now, "heartbeat_at": Now()}
        items = [("status", {"status": "running"})]
        if resumed:
            items.append(("log", {"text": f"attempt {claim['attempts']} of {job.max_attempts} on {worker} "
                                          f"(the previous worker was lost)"}))
        # the claim and its events: one update of the row this transaction already holds locked;
        # `running` is handed to the broker before the job starts (its thread would hold the GIL)
        rows = record(job, items, claim, wait=1.0)
        for field, value in claim.items():
            if not isinstance(value, Now):
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
        broadcast(job.pk, job.project_id, [JobEvent(job_id=job.pk, seq=job.last_seq, type="status", data=data, ts=now)],
                  wait=1.0)
    return job


def _finish(job: Job, attempt: int, status: str, fields: dict) -> bool:
    """Set the final state and its event in one statement, once: only while `attempt` holds the
    job (the fence). Retried while the database restarts; a write the database refuses for another
    reason (DataError, IntegrityError...) is no outage: the job then ends failed, saying why.
    False if another attempt holds the job."""
    data = {"status": status, **({"error": fields["error"]} if fields.get("error") else {})}
    fields = {**fields, "status": status, "finished_at": timezone.now()}

    def write(data, fields):
        with transaction.atomic():
            # the final status is the event clients wait for: hand it to the broker before returning
            record(job, [("status", data)], fields, wait=5.0, fence=attempt)
        return True

    try:
        try:
            return retry_while_db_down(lambda: write(data, fields), what=f"job {job.pk}: final status")
        except DatabaseError as exc:
            if isinstance(exc, DB_DOWN):
                raise
            log.warning("job %s: the database refused its final write", job.pk, exc_info=True)
            reason = (str(exc).strip().splitlines() or [""])[0][:500]  # PostgreSQL's sentence, not its CONTEXT lines
            error = f"the job's result could not be stored ({type(exc).__name__}: {reason})"
            refused = {**fields, "status": Job.Status.FAILED, "error": error, "result": None}
            return retry_while_db_down(lambda: write({"status": Job.Status.FAILED.value, "error": error}, refused),
                                       what=f"job {job.pk}: final status")
    except Fenced:
        return False


@shared_task(name="jobs.run_job", acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    worker = run_job.request.hostname or "worker"
    # a claim that fails for good leaves the job queued: the reaper's first sweep after the outage
    # sends it again (an acked message must not strand it)
    job = retry_while_db_down(lambda: _claim(job_id, worker), what=f"job {job_id}: claim")
    if job is None:
        return
    attempt = job.attempts
    kind = get_kind(job.kind)
    fresh = claim_folder(job_dir(job), job.params)
    reporter = JobReporter(job, job_dir(job))
    if fresh:
        reporter.log(fresh)
    final, error, result = Job.Status.FAILED, "", None
    try:
        params = kind.params.model_validate(resolve_artifacts(job.params, job.owner))
        result = kind.runner(params, reporter)
        final = Job.Status.SUCCEEDED
    except Cancelled:
        final = Job.Status.CANCELLED
        if not reporter.fenced:  # a fenced attempt stopped because another one holds the job: it records nothing
            Artifact.objects.filter(job=job, job__attempts=attempt, job__status=Job.Status.RUNNING).update(partial=True)
            reporter.log("cancelled: stopped at the last step boundary; artifacts written so far are kept, "
                         "marked partial")
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
        finished = _finish(job, attempt, final, {"error": error, "result": safe_result(result),
                                                 "bytes_stored": settle(job_dir(job), attempt),
                                                 **({"progress": 1.0} if final == Job.Status.SUCCEEDED else {})})
    if not finished:
        log.warning("job %s: attempt %s was fenced out (another attempt holds the job); it stopped and "
                    "wrote nothing more", job.pk, attempt)


def publish(job: Job) -> bool:
    """Send the job's message to its queue and note that the broker took it (the outbox): a
    queued job without `sent_at` is sent again by the reaper's sweep. False if the broker refused."""
    kind = get_kind(job.kind)
    try:
        run_job.apply_async(args=[job.pk], queue=job.queue, soft_time_limit=kind.soft_time_limit,
                            time_limit=kind.time_limit)
    except Exception:  # broker unreachable: the job is stored and stays queued (the answer is not a 500)
        log.exception("job %s: could not send it to queue %s; the reaper sends it again", job.pk, job.queue)
        return False
    try:
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(sent_at=Now())
    except DatabaseError:  # unconfirmed: it is sent again, and `_claim` refuses the duplicate
        log.warning("job %s: sent, but could not note it", job.pk, exc_info=True)
    return True


def enqueue(job: Job) -> None:
    """Send the job to its queue once the row is committed (the worker must find it)."""
    transaction.on_commit(lambda: publish(job))
