"""One Celery task runs every kind of job; the kind's runner comes from the registry."""
from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.nodenames import worker_direct
from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Q
from django.db.models.functions import Now
from django.db.utils import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

from ml.finite import Diverged, safe_result
from ml.reporting import Cancelled
from ml.train.cluster import PeerLost

from . import preemption, scheduler
from .dbretry import DB_DOWN, retry_while_db_down
from .devices import held
from .eventlog import Fenced
from .events import broadcast, record
from .models import Artifact, Job, JobEvent
from .multinode import nodes_for, requeue_after_lost_peer
from .reaper import give_up, requeued, seconds_ago
from .registry import get_kind
from .reporter import JobReporter
from .resolve import resolve_artifacts
from .storage import claim_folder
from .transfer import settle_attempt, start_attempt
from .usage import OPEN_RUN_SQL, close_runs, open_run

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
        started_at = coalesce(started_at, %(now)s), heartbeat_at = now(), last_seq = last_seq + 1,
        admitted_at = coalesce(admitted_at, now())
    WHERE id = %(job_id)s AND status = %(queued)s AND attempts = 0 AND max_attempts > 0 AND NOT cancel_requested
    RETURNING *
), event AS (
    INSERT INTO {events} (job_id, seq, type, data, ts) SELECT id, last_seq, 'status', %(data)s::jsonb, %(now)s FROM job
), run AS (
    {open_run}
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
        job = Job.objects.select_for_update().filter(pk=job_id).annotate(
            beating=fresh, silent=Now() - F("heartbeat_at")).first()
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
                 "started_at": job.started_at or now, "heartbeat_at": Now(), "admitted_at": job.admitted_at or now}
        # a lost worker's redelivered message, claimed before the reaper requeued its job: the history the
        # reaper would have written (a pool process that died under a live worker goes on: running, running)
        items = requeued(job) if job.status == Job.Status.RUNNING and not job.beating else []
        items.append(("status", {"status": "running"}))
        if resumed and job.preempted_by is not None:
            items.append(("log", {"text": f"attempt {claim['attempts']} on {worker}: resumes after its "
                                          f"preemption by job {job.preempted_by}"}))
        elif resumed:
            items.append(("log", {"text": f"attempt {claim['attempts']} of {job.max_attempts} on {worker} "
                                          f"(the previous worker was lost)"}))
        claim["preempted_by"] = None
        # the claim and its events: one update of the row this transaction already holds locked;
        # `running` is handed to the broker before the job starts (its thread would hold the GIL)
        rows = record(job, items, claim, wait=1.0)
        for field, value in claim.items():
            if not isinstance(value, Now):
                setattr(job, field, value)
        job.last_seq = rows[-1].seq
        open_run(job)
    return job


def _claim_first_attempt(job_id: int, worker: str) -> Job | None:
    """A queued job, never started, not cancelled: claimed in one statement (a lock, a select,
    an update, an insert and a commit were a third of the dispatch latency). Anything else
    takes the locked path of `_claim`."""
    now = timezone.now()
    data = {"status": Job.Status.RUNNING.value}
    sql = _CLAIM_FIRST.format(jobs=Job._meta.db_table, events=JobEvent._meta.db_table, open_run=OPEN_RUN_SQL)
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
            close_runs(job.pk)  # after the fenced write: a fenced-out attempt's run was closed by its successor
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
    checkpoints, notes = start_attempt(job, job_dir(job))  # with an object store (jobs/transfer.py)
    reporter = JobReporter(job, job_dir(job))
    for note in (fresh, *notes):
        if note:
            reporter.log(note)
    final, error, result, lost, stopped = Job.Status.FAILED, "", None, None, None
    try:
        raw = import_string(kind.inputs)(job) if kind.inputs else resolve_artifacts(job.params, job.owner)
        params = kind.params.model_validate(raw)
        # its own devices, CUDA_VISIBLE_DEVICES set before the runner touches CUDA (jobs/devices.py)
        with held(job, worker, reporter.log), nodes_for(job, params, reporter):  # nodes > 1: jobs/multinode.py
            result = kind.runner(params, reporter)
        final = Job.Status.SUCCEEDED
    except Cancelled as exc:
        final, stopped = Job.Status.CANCELLED, exc
        error = reporter.stop_reason or ""  # stopped from the worker (a sweep's pruner): say why
        if preempted(job):  # not the user's cancel: it goes back to the queue below, its files as they are
            pass
        elif not reporter.fenced:  # a fenced attempt stopped because another one holds the job: it records nothing
            Artifact.objects.filter(job=job, job__attempts=attempt, job__status=Job.Status.RUNNING).update(partial=True)
            reporter.log("cancelled: stopped at the last step boundary; artifacts written so far are kept, "
                         "marked partial")
    except Diverged as exc:  # a final answer, not a fault: a rerun from the same seed diverges again
        error = str(exc)
        reporter.log(error)
        log.warning("job %s: %s", job.pk, error)
    except PeerLost as exc:  # another node of the training was lost: this attempt was, as with a lost worker
        error = lost = str(exc)  # logged with the requeue, or the final error when it was the last attempt
    except SoftTimeLimitExceeded:
        error = f"time limit of {kind.soft_time_limit} s for '{kind.name}' jobs exceeded"
    except Exception as exc:  # the job failed, not the platform: record why, keep the worker alive
        error = f"{type(exc).__name__}: {exc}"
        reporter.log(traceback.format_exc(limit=20))
        log.warning("job %s failed: %s", job.pk, error)
    requeued = False
    try:
        checkpoints.close()  # the last checkpoint is in the store before the next attempt looks for it
        reporter.close()
    finally:
        requeued = lost is not None and requeue_after_lost_peer(job, attempt, lost)
        if lost is not None and not requeued:
            error = f"gave up after {attempt} attempts: {lost}"
        # a preemption (jobs/preemption.py) stops the runner as a cancel does: back to the queue instead
        requeued = requeued or (stopped is not None and lost is None and retry_while_db_down(
            lambda: preemption.requeue(job, attempt, stopped), what=f"job {job.pk}: requeue after preemption"))
        finished = requeued or _finish(job, attempt, final, {
            "error": error, "result": safe_result(result), "bytes_stored": settle_attempt(job_dir(job), attempt),
            **({"progress": 1.0} if final == Job.Status.SUCCEEDED else {})})
    scheduler.schedule_soon()  # a slot is free: the next job starts (a pass failing waits for the next beat)
    if not finished:
        log.warning("job %s: attempt %s was fenced out (another attempt holds the job); it stopped and "
                    "wrote nothing more", job.pk, attempt)


def preempted(job: Job) -> bool:
    """Whether the job was asked to stop by a preemption (and not also cancelled by a person)."""
    flags = Job.objects.filter(pk=job.pk).values_list("preempted_by", "cancel_requested").first()
    return bool(flags and flags[0] is not None and not flags[1])


def publish(job: Job) -> bool:
    """Send the job's message to its queue and note that the broker took it (the outbox): a
    queued job without `sent_at` is sent again by the reaper's sweep. False if the broker refused."""
    kind = get_kind(job.kind)
    # a multi-node training goes to the first worker it reserved (node 0), a job on GPUs to its worker,
    # on that worker's own queue
    queue = worker_direct(job.reserved_workers[0]) if job.reserved_workers else job.queue
    try:
        run_job.apply_async(args=[job.pk], queue=queue, soft_time_limit=kind.soft_time_limit,
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
    """Offer the job to the scheduler once the row is committed (jobs/scheduler.py): it is sent to
    its queue when a worker slot is free and the policy picks it. A job stored `held`
    (create_job(send=False), as an upload is before its file is in) is released."""
    if job.held:
        Job.objects.filter(pk=job.pk, held=True).update(held=False)
        job.held = False
    scheduler.schedule_soon()
