"""Admission decisions (issue 17): one scheduler pass over 10,000 waiting jobs.

10,000 queued jobs of 20 users on one queue, 2,000 past runs in the usage history, 8 worker slots
all held by running jobs. Each timed pass first frees one slot (a running job ends), then runs
jobs.scheduler.schedule(): the advisory lock, the state read (one statement), the policy, the
admission UPDATE, the commit and the publish of the admitted job. The policy alone
(jobs.fairshare.plan) and the ranking of every waiting job (fairshare.order: the queue positions
pushed to the pages) are timed on the same state. Goal: a pass under 50 ms.
"""
from __future__ import annotations

import threading
import time

from bench.common import BenchDatabase, django_setup, pct, save, table

N_WAITING, N_USERS, N_RUNS, SLOTS, PASSES, WARMUP = 10_000, 20, 2_000, 8, 50, 3
QUEUE = "bench-scheduler"


def main():
    django_setup()
    with BenchDatabase():
        run()


def load():
    from django.contrib.auth import get_user_model
    from django.db import connection

    from jobs.projects import personal_project

    users = [get_user_model().objects.create_user(f"u{i}", password="pw") for i in range(N_USERS)]
    projects = [personal_project(u) for u in users]
    pairs = [(u.pk, p.pk) for u, p in zip(users, projects)]
    with connection.cursor() as cur:
        # waiting jobs in submission order, users interleaved unevenly (user i submits ~ i+1 shares)
        cur.execute("""
            INSERT INTO jobs_job (owner_id, project_id, name, kind, params, status, progress, error, attempts,
                                  max_attempts, queue, worker, cancel_requested, last_seq, created_at, priority, held)
            SELECT (%(pairs)s::int[][])[1 + (s * 7919) %% %(n)s][1], (%(pairs)s::int[][])[1 + (s * 7919) %% %(n)s][2],
                   '', 'sample', '{}', 'queued', 0, '', 0, 3, %(q)s, '', false, 1,
                   now() - make_interval(secs => %(w)s - s),
                   CASE WHEN s %% 50 = 0 THEN 'high' WHEN s %% 7 = 0 THEN 'low' ELSE 'normal' END, false
            FROM generate_series(1, %(w)s) AS s""", {"pairs": [list(p) for p in pairs], "n": N_USERS, "q": QUEUE,
                                                     "w": N_WAITING})
        # the slots, all held; and the usage history
        for i in range(SLOTS):
            owner, project = pairs[i % N_USERS]
            cur.execute("""INSERT INTO jobs_job (owner_id, project_id, name, kind, params, status, progress, error,
                           attempts, max_attempts, queue, worker, cancel_requested, last_seq, created_at, started_at,
                           admitted_at, priority, held)
                           VALUES (%s, %s, '', 'sample', '{}', 'running', 0, '', 1, 3, %s, %s, false, 1, now(), now(),
                                   now(), 'normal', false)""", [owner, project, QUEUE, f"bench-{i}@host"])
        cur.execute("""
            INSERT INTO jobs_jobrun (job_id, owner_id, project_id, queue, worker, started_at, ended_at)
            SELECT (SELECT min(id) FROM jobs_job), (%(pairs)s::int[][])[1 + s %% %(n)s][1],
                   (%(pairs)s::int[][])[1 + s %% %(n)s][2], %(q)s, 'w',
                   now() - make_interval(secs => s * 60 + 30 * (s %% 13)), now() - make_interval(secs => s * 60)
            FROM generate_series(1, %(r)s) AS s""", {"pairs": [list(p) for p in pairs], "n": N_USERS, "q": QUEUE,
                                                     "r": N_RUNS})
        cur.execute("ANALYZE jobs_job; ANALYZE jobs_jobrun")


def run():
    from django.db.models.functions import Now

    from jobs import fairshare, scheduler, workers
    from jobs.models import Job

    load()
    for i in range(SLOTS):
        workers.beat(f"bench-{i}@host", [QUEUE], "CPU", concurrency=1)
    passes, admitted = [], []
    try:
        assert scheduler.schedule() == []  # every slot held: nothing to admit
        for i in range(PASSES + WARMUP):
            running = Job.objects.filter(queue=QUEUE, status__in=["running", "queued"], admitted_at__isnull=False)
            Job.objects.filter(pk=running.order_by("id").values("id")[:1]).update(status="succeeded",
                                                                                   finished_at=Now())
            t0 = time.perf_counter()
            ids = scheduler.schedule()
            if i >= WARMUP:  # the first passes fill the connection's and the planner's caches
                passes.append(1000 * (time.perf_counter() - t0))
            admitted += ids
            for t in threading.enumerate():  # the push of positions, timed on its own below
                if t.name == "queue-positions":
                    t.join()
        plan_ms, push_ms, positions_ms = [], [], []
        worker_list = scheduler.live_workers()
        for _ in range(PASSES):
            state = scheduler.read_state(worker_list, queues={QUEUE}, per_group=SLOTS)
            t0 = time.perf_counter()
            fairshare.plan(state)
            plan_ms.append(1000 * (time.perf_counter() - t0))
            t0 = time.perf_counter()
            scheduler._push_positions(worker_list, {QUEUE}, [])  # what the pass's thread does
            push_ms.append(1000 * (time.perf_counter() - t0))
        for _ in range(PASSES // 5):
            t0 = time.perf_counter()
            scheduler.positions()
            positions_ms.append(1000 * (time.perf_counter() - t0))
    finally:
        for i in range(SLOTS):
            workers.forget(f"bench-{i}@host")
        workers.client().delete(*workers.client().keys(f"*celery:{QUEUE}*") or ["-"])
    assert len(admitted) == PASSES + WARMUP == len(set(admitted)), "each pass frees one slot and admits one job"
    rows = [
        {"measure": "scheduler pass, 1 slot free (ms)", "p50": pct(passes, 50), "p90": pct(passes, 90),
         "p99": pct(passes, 99), "goal": "<50"},
        {"measure": "  policy alone: plan (ms)", "p50": pct(plan_ms, 50), "p90": pct(plan_ms, 90),
         "p99": pct(plan_ms, 99), "goal": ""},
        {"measure": "positions pushed to the pages, first 100 (ms)", "p50": pct(push_ms, 50), "p90": pct(push_ms, 90),
         "p99": pct(push_ms, 99), "goal": "off the pass"},
        {"measure": "positions for an API read, first 100 (ms)", "p50": pct(positions_ms, 50),
         "p90": pct(positions_ms, 90), "p99": pct(positions_ms, 99), "goal": ""},
    ]
    print(table(rows, ["measure", "p50", "p90", "p99", "goal"]))
    print(f"{N_WAITING} waiting jobs of {N_USERS} users, {N_RUNS} past runs, {SLOTS} slots; {PASSES} passes")
    save("scheduler", {"waiting": N_WAITING, "users": N_USERS, "runs": N_RUNS, "slots": SLOTS, "passes": PASSES,
                       "rows": rows})


if __name__ == "__main__":
    main()
