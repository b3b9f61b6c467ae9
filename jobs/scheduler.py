"""Admission above Celery: a queued job goes to its Celery queue only when the policy picks it.

A pass (`schedule`) runs when a job is submitted, when one ends or is requeued, and on every worker's
presence beat. It reads the state (waiting jobs, slots in use, workers and their concurrency from
their beats in Redis, decayed usage), lets jobs/fairshare.py choose, marks the chosen `admitted_at`
and, once that commits, publishes them (jobs/tasks.py `publish`, the outbox). The whole pass holds
one PostgreSQL advisory lock (transaction-scoped): several schedulers (web processes, each worker
host) may run at once and each sees the admissions of the one before it, so no slot is given twice.
The conditional UPDATE (`admitted_at IS NULL`) is a second fence: a job is admitted once whatever
happens to the lock.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from . import fairshare, preemption, workers
from .models import Job
from .projects import Project
from .usage import DECAYED_SQL, decayed_args

log = logging.getLogger(__name__)

# pg_advisory_xact_lock's key: "fair" in ASCII, one lock for every scheduler of this database
LOCK_KEY = 0x66616972

_WAITING_WHERE = "status = 'queued' AND admitted_at IS NULL AND NOT held AND NOT cancel_requested"

# slots in use, quotas and usage in one round trip (the pass runs on every submit: each round trip
# is latency); all small, whatever the number of waiting jobs
_HELD = f"""
SELECT
  (SELECT coalesce(json_agg(json_build_array(queue, owner_id, project_id,
                                             CASE WHEN status = 'running' THEN worker END, id,
                                             reserved_workers, status, devices)), '[]')
   FROM {Job._meta.db_table}
   WHERE status = 'running' OR (status = 'queued' AND admitted_at IS NOT NULL AND NOT cancel_requested)),
  (SELECT coalesce(json_object_agg(id, max_running), '{{}}') FROM {Project._meta.db_table}
   WHERE max_running IS NOT NULL),
  ({DECAYED_SQL.format(key="owner_id")}),
  ({DECAYED_SQL.format(key="project_id")})
"""

# the first `k` waiting jobs of each (queue, user, project, priority) in submission order: nothing
# further back in a group can be picked before them, so a pass with k free slots needs no more
# (from jobs_job_waiting_idx: a pass reads tens of rows, not every waiting job). k: at least
# %(k_min)s, else 2 * %(top)s / groups (a ranking of `top` then rarely needs a second read), at most %(top)s.
_WAITING = f"""
WITH g AS (
    SELECT DISTINCT queue, owner_id, project_id, priority FROM {Job._meta.db_table}
    WHERE {_WAITING_WHERE} AND (%(queues)s::text[] IS NULL OR queue = ANY(%(queues)s::text[]))
), k AS (
    SELECT least(%(top)s, greatest(%(k_min)s, ceil(2.0 * %(top)s / greatest(count(*), 1))))::int AS k FROM g
)
SELECT coalesce(json_agg(json_build_array(j.id, g.queue, g.owner_id, g.project_id, g.priority,
                                          extract(epoch FROM j.created_at)::float8, k.k, j.kind, j.nodes,
                                          j.devices)), '[]')
FROM g CROSS JOIN k CROSS JOIN LATERAL (
    SELECT id, created_at, kind, devices,
           CASE WHEN jsonb_typeof(params -> 'nodes') = 'number' THEN greatest(1, (params ->> 'nodes')::numeric::int)
                ELSE 1 END AS nodes
    FROM {Job._meta.db_table}
    WHERE {_WAITING_WHERE} AND queue = g.queue AND owner_id = g.owner_id AND project_id = g.project_id
      AND priority = g.priority
    ORDER BY created_at, id LIMIT k.k) AS j
"""


def live_workers(cached: bool = False) -> list[fairshare.Worker]:
    return [fairshare.Worker(w["name"], frozenset(w["queues"]), int(w.get("concurrency") or 1), float(w.get("ts") or 0),
                             len(w["devices"]) if isinstance(w.get("devices"), list) else 0)
            for w in (workers.online_cached() if cached else workers.online())]


def _held(rows) -> list[fairshare.Held]:
    """A multi-node job's reservation holds a slot on each of its workers, from admission to its end."""
    out = []
    for q, o, p, w, job, reserved, _status, devices in rows:
        if reserved and len(reserved) > 1:
            out += [fairshare.Held(q, o, p, name, job, len(reserved), int(k == 0), devices)
                    for k, name in enumerate(reserved)]
        else:  # a GPU job's reservation: on its worker from admission (claimed, `w` says the same)
            out.append(fairshare.Held(q, o, p, w or (reserved[0] if reserved else None), job, devices=devices))
    return out


def _avoided(waiting: list, worker_list: list[fairshare.Worker]) -> dict[int, frozenset[str]]:
    """For multi-node jobs: the peers of their lost attempt that have not beaten since (jobs/multinode.py)."""
    from .multinode import lost_peers

    ids = [r[0] for r in waiting if r[8] > 1]
    if not ids:
        return {}
    beats = {w.name: w.beat for w in worker_list}
    return {i: frozenset(n for n, t in lost.items() if beats.get(n, 0.0) <= t) for i, lost in lost_peers(ids).items()}


def read_state(worker_list: list[fairshare.Worker] | None = None, queues: set[str] | None = None,
               per_group: int | None = None, k_min: int | None = None) -> fairshare.State:
    """What the policy decides on, in one statement. `queues`: only their waiting jobs (None: every
    queue; empty: none); of each group the first `per_group` (None: all), or with `k_min` the first
    k_min..per_group as the number of groups asks (see _WAITING)."""
    sql, args = _HELD, decayed_args()
    if queues is None or queues:
        sql = f"{_HELD}, ({_WAITING})"
        top = per_group if per_group is not None else 2**31 - 1
        args.update(queues=None if queues is None else sorted(queues), top=top,
                    k_min=top if k_min is None else min(k_min, top))
    with connection.cursor() as cur:
        cur.execute(sql, args)
        held, caps, users, projects, *waiting = cur.fetchone()
    waiting = sorted(waiting[0] if waiting else [], key=lambda r: (r[5], r[0]))
    worker_list = live_workers() if worker_list is None else worker_list
    avoid = _avoided(waiting, worker_list)
    state = fairshare.State(
        [fairshare.Waiting(i, q, o, p, pr, (t, i), kind, n, d, avoid.get(i, frozenset()))
         for i, q, o, p, pr, t, _k, kind, n, d in waiting],
        _held(held),
        worker_list,
        {int(k): float(v) for k, v in users.items()}, {int(k): float(v) for k, v in projects.items()},
        {int(k): int(v) for k, v in caps.items()}, settings.LAB_MAX_RUNNING_PER_USER)
    state.per_group = waiting[0][6] if waiting else 0  # the k this read used
    state.stranded = [job for _q, _o, _p, _w, job, reserved, status, _d in held  # see _release_stranded
                      if status == "queued" and reserved and not set(reserved) <= {w.name for w in worker_list}]
    return state


def schedule() -> list[int]:
    """One pass: admit what the policy picks, publish it once committed; returns the admitted ids.
    Safe to call from anywhere, any number of times: a pass with nothing to do admits nothing."""
    worker_list = live_workers()  # Redis, before the lock: the lock is held for database work only
    if not worker_list:
        return []  # no slot anywhere: the first beat of a worker runs a pass
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        # one statement: slots in use, and of each group as many waiting jobs as there are slots at all
        # (no more can be free); a busy lab reads a few rows per group for nothing, an idle one no wait
        state = read_state(worker_list, queues={q for w in worker_list for q in w.queues},
                           per_group=sum(w.slots for w in worker_list))
        if _release_stranded(state):
            state = read_state(worker_list, queues={q for w in worker_list for q in w.queues},
                               per_group=sum(w.slots for w in worker_list))
        chosen = fairshare.plan(state)
        ids = [j.id for j in chosen.admit]
        if ids:
            reserved = {str(i): chosen.reserved.get(i) for i in ids}
            with connection.cursor() as cur:
                cur.execute(f"UPDATE {Job._meta.db_table} AS j SET admitted_at = now(), "
                            "reserved_workers = CASE WHEN jsonb_typeof(r.value) = 'array' THEN r.value END "
                            "FROM jsonb_each(%s::jsonb) AS r WHERE j.id = r.key::bigint "
                            "AND j.status = 'queued' AND j.admitted_at IS NULL RETURNING j.id",
                            [json.dumps(reserved)])
                done = {row[0] for row in cur.fetchall()}
            ids = [i for i in ids if i in done]
            sent = [Job(pk=j.id, kind=j.kind, queue=j.queue, reserved_workers=chosen.reserved.get(j.id))
                    for j in chosen.admit if j.id in done]
            transaction.on_commit(lambda: _publish(sent))
        preemption.preempt(state, chosen)  # high jobs with no slot: the newest low job of their queue stops
    if ids:  # once committed (the pass may be part of the caller's transaction), in a thread: a
        # worker's next job, a POST's answer do not wait for the pages
        push = threading.Thread(target=_push_positions, name="queue-positions", daemon=True,
                                args=(worker_list, {j.queue for j in chosen.admit}, chosen.admit))
        transaction.on_commit(push.start)
    return ids


def _release_stranded(state: fairshare.State) -> bool:
    """An admitted multi-node or GPU job not yet claimed whose reserved workers are not all live any more
    (its message waits on node 0's own queue): back to waiting, to be admitted on live ones."""
    if not state.stranded:
        return False
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {Job._meta.db_table} SET admitted_at = NULL, sent_at = NULL, reserved_workers = NULL "
                    "WHERE id = ANY(%s) AND status = 'queued'", [state.stranded])
    log.info("scheduler: jobs %s lost a reserved worker before starting; admitted again", state.stranded)
    return True


def _publish(jobs: list[Job]) -> None:
    from .tasks import publish

    for job in jobs:  # publish reads only id, kind and queue
        publish(job)


def schedule_now() -> None:
    """A pass inside the caller's transaction (its own savepoint): what the caller wrote is seen, the
    admission commits with it, the lock is held until then. A failed pass is logged and rolled back
    alone."""
    try:
        schedule()
    except Exception:
        log.warning("scheduler pass failed; the next one admits what waits", exc_info=True)


def schedule_soon() -> None:
    """A pass once the current transaction commits (at once outside one)."""
    transaction.on_commit(_safe_schedule)


def _safe_schedule() -> None:
    try:
        schedule()
    except Exception:  # the database or Redis restarting: the next beat's pass admits what waits
        log.warning("scheduler pass failed; the next one admits what waits", exc_info=True)


def ranked(queues: set[str] | None = None, worker_list=None) -> tuple[fairshare.State, dict[int, tuple[int, str]]]:
    """The first LAB_QUEUE_LIVE_POSITIONS waiting jobs of each queue, ranked: {job id: (queue_position,
    waiting_reason)}, as the next passes would admit them (read without the lock: a view, like the rows
    it is made of). Reads the first k of each group, k growing until no group ran out inside the ranking
    (a ranking of n needs at most n of a group, and with many users far fewer)."""
    top = settings.LAB_QUEUE_LIVE_POSITIONS
    worker_list = live_workers() if worker_list is None else worker_list
    k_min = 16
    while True:
        state = read_state(worker_list, queues=queues, per_group=top, k_min=k_min)
        chosen = fairshare.plan(state)
        ranks = fairshare.order(state, chosen, limit=top)
        if state.per_group >= top or not _ran_out(state, chosen, ranks, state.per_group):
            return state, ranks
        k_min = min(top, 4 * state.per_group)


def _ran_out(state, chosen, ranks, k) -> bool:
    """Whether some group read in full (k rows) had its last row ranked or admitted: its next rows,
    unread, might rank before what follows."""
    last: dict[tuple, list] = {}
    for j in state.waiting:
        g = last.setdefault((j.queue, j.owner, j.project, j.priority), [0, None])
        g[0] += 1
        g[1] = j.id  # state.waiting is in submission order: the group's last row
    admitted = {j.id for j in chosen.admit}
    return any(n >= k and (i in ranks or i in admitted) for n, i in last.values())


@dataclass(frozen=True)
class Positions:
    """Where the waiting jobs of a ranking stand, for answers about rows read just before it."""
    ranks: dict[int, tuple[int, str]]
    full: frozenset[str]  # the queues whose ranking stopped at LAB_QUEUE_LIVE_POSITIONS

    def of(self, job_id: int, queue: str) -> tuple[int | None, str | None]:
        if job_id in self.ranks:
            return self.ranks[job_id]
        if queue in self.full:
            return None, f"more than {settings.LAB_QUEUE_LIVE_POSITIONS} jobs ahead of you on {queue}"
        # not waiting any more: admitted since its row was read, or the pick of the pass now running
        return None, None


def positions(queues: set[str] | None = None) -> Positions:
    """For answers: the workers as read at most a second ago (one Redis read less a request)."""
    state, ranks = ranked(queues, live_workers(cached=True))
    counts = Counter(j.queue for j in state.waiting if j.id in ranks)
    return Positions(ranks, frozenset(q for q, n in counts.items() if n >= settings.LAB_QUEUE_LIVE_POSITIONS))


def _push_positions(worker_list, queues: set[str], admitted: list[fairshare.Waiting]) -> None:
    """Positions moved: one message per project to its members' /ws/jobs/ (the jobs list and job
    pages follow it), for the first LAB_QUEUE_LIVE_POSITIONS waiting jobs of each queue."""
    from .events import project_group, send_transient

    try:
        state, ranks = ranked(queues, worker_list)
    except Exception:  # a view: the pages read the API on their next load or reconnect
        log.warning("scheduler: could not rank the waiting jobs for the pages", exc_info=True)
        return
    finally:
        connection.close()  # this thread's own connection
    by_project: dict[int, dict] = {}
    for job in admitted:  # handed to a worker: no longer waiting
        by_project.setdefault(job.project, {})[str(job.id)] = {"queue_position": None, "waiting_reason": None}
    for job in state.waiting:
        pos = ranks.get(job.id)
        if pos is not None:
            by_project.setdefault(job.project, {})[str(job.id)] = {"queue_position": pos[0],
                                                                    "waiting_reason": pos[1]}
    send_transient([(project_group(p), {"type": "queue", "project": p, "data": {"jobs": jobs}})
                    for p, jobs in by_project.items()])
