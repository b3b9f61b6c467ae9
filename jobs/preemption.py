"""Preemption (docs/scheduling.md): a `high` job that finds no free slot on its queue asks the most
recently started `low` job there to stop at its next step. That job saves its checkpoint (the same
stop as a cancel: ml.reporting.Cancelled at a step boundary), goes back to `queued` with the log line
"preempted by job N; resumes from step k", and resumes from the checkpoint when the scheduler admits
it again. The requeue is fenced by the attempt, like every attempt change; it does not use up one of
the job's attempts (those count lost workers).
"""
from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import connection

from . import fairshare
from .eventlog import Fenced
from .events import record
from .models import Job
from .usage import close_runs

log = logging.getLogger(__name__)

# the most recently started low job of a queue, of a project that allows it, not already asked
_VICTIMS = f"""
SELECT j.id FROM {Job._meta.db_table} j
JOIN jobs_project p ON p.id = j.project_id
JOIN jobs_jobrun r ON r.job_id = j.id AND r.ended_at IS NULL
WHERE j.status = 'running' AND j.queue = %(queue)s AND j.priority = 'low' AND p.preemptible
  AND j.preempted_by IS NULL AND NOT j.cancel_requested
ORDER BY r.started_at DESC, j.id DESC
LIMIT %(n)s
"""
_ASKED = f"""SELECT queue, count(*) FROM {Job._meta.db_table}
WHERE status = 'running' AND preempted_by IS NOT NULL GROUP BY queue"""


def preempt(state: fairshare.State, chosen: fairshare.Plan) -> list[tuple[int, int]]:
    """In the scheduler's locked pass, after its admissions: [(low job asked to stop, high job)]. Each
    high job that waits only for a slot gets one; a preemption already under way counts."""
    if not settings.LAB_PREEMPTION:
        return []
    admitted = {j.id for j in chosen.admit}
    open_queues = {q for w in state.workers if chosen.free.get(w.name, 0) > 0 for q in w.queues}
    live = {q for w in state.workers for q in w.queues}
    wanting: dict[str, list[fairshare.Waiting]] = {}
    for j in state.waiting:
        if (j.priority == "high" and j.id not in admitted and j.queue in live and j.queue not in open_queues
                and fairshare.quota_reason(j, state, chosen.held_user, chosen.held_project) is None):
            wanting.setdefault(j.queue, []).append(j)
    if not wanting:
        return []
    with connection.cursor() as cur:
        cur.execute(_ASKED)
        asked = dict(cur.fetchall())
    pairs = []
    for queue, highs in wanting.items():
        highs = highs[asked.get(queue, 0):]  # those already freeing a slot serve the first ones
        if not highs:
            continue
        with connection.cursor() as cur:
            cur.execute(_VICTIMS, {"queue": queue, "n": len(highs)})
            victims = [row[0] for row in cur.fetchall()]
        for victim, high in zip(Job.objects.filter(pk__in=victims).order_by("-pk"), highs):
            record(victim, [("log", {"text": f"job {high.id} (priority high) is waiting for this slot: stopping "
                                             f"at the next step, to resume from the checkpoint later"})],
                   {"preempted_by": high.id})
            pairs.append((victim.pk, high.id))
    if pairs:
        log.info("scheduler: preempting %s", ", ".join(f"job {v} for job {h}" for v, h in pairs))
    return pairs


def requeue(job: Job, attempt: int, stopped: Exception) -> bool:
    """The runner stopped (Cancelled) for a preemption rather than a cancel: back to `queued`, fenced by
    `attempt`. False if it was a cancel, or if another attempt holds the job."""
    row = Job.objects.filter(pk=job.pk).values("preempted_by", "cancel_requested", "max_attempts").first()
    if not row or row["preempted_by"] is None or row["cancel_requested"]:
        return False
    step = re.search(r"step (\d+)", str(stopped))
    where = f"step {step.group(1)}" if step else "its last checkpoint"
    try:
        record(job, [("log", {"text": f"preempted by job {row['preempted_by']}; resumes from {where}"}),
                     ("status", {"status": "queued"})],
               # one more attempt allowed: the attempts count lost workers, not preemptions
               {"status": Job.Status.QUEUED, "heartbeat_at": None, "sent_at": None, "admitted_at": None,
                "max_attempts": row["max_attempts"] + 1}, fence=attempt)
    except Fenced:
        return False
    close_runs(job.pk)
    return True
