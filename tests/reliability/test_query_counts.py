"""The jobs list, a job's page and its events stay cheap with many jobs and events in the database:
a fixed number of queries whatever the size (no N+1), and index scans, not sequential ones."""
import time

import pytest
from django.db import connection

from jobs.models import Job, JobEvent

pytestmark = pytest.mark.django_db
# 10,000 jobs as in the issue; events at a tenth of its 1,000,000 to keep `make test` fast (loading takes
# ~4 s per 100,000 rows on a busy 2-core box). `make bench` (bench/bench_load.py) runs the full million.
N_JOBS, N_EVENTS, BIG_JOB_EVENTS = 10_000, 100_000, 50_000


def bulk_load(owner, other, n_jobs=N_JOBS, n_events=N_EVENTS, big_job_events=BIG_JOB_EVENTS):
    """n_jobs jobs (a tenth of them another user's), n_events events, big_job_events of them in one job."""
    from jobs.projects import personal_project

    t0 = time.perf_counter()
    projects = [personal_project(other).pk, personal_project(owner).pk]
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM jobs_job")
        before = cur.fetchone()[0]  # jobs already there keep their events
        cur.execute(
            "INSERT INTO jobs_job (owner_id, project_id, name, kind, params, status, progress, error, attempts, max_attempts, queue,"
            " worker, cancel_requested, last_seq, created_at) SELECT CASE WHEN i %% 10 = 0 THEN %s ELSE %s END,"
            " CASE WHEN i %% 10 = 0 THEN %s ELSE %s END, '',"
            " CASE WHEN i %% 3 = 0 THEN 'train' ELSE 'sample' END, '{}', (ARRAY['queued','running','succeeded',"
            "'failed','cancelled'])[1 + i %% 5], 0, '', 1, 3, 'gpu', '', false, 0,"
            " now() - make_interval(secs => i) FROM generate_series(1, %s) AS i", [other.pk, owner.pk, *projects, n_jobs])
        cur.execute("SELECT min(id), max(id) FROM jobs_job WHERE owner_id = %s AND id > %s", [owner.pk, before])
        first, last = cur.fetchone()
        per_job = (n_events - big_job_events) // (n_jobs - 1)
        # the big job's events, then per_job events for each other job
        cur.execute(
            "INSERT INTO jobs_jobevent (job_id, seq, type, data, ts) SELECT %s, s, 'progress',"
            " jsonb_build_object('done', s, 'total', %s), now() FROM generate_series(1, %s) AS s",
            [first, big_job_events, big_job_events])
        cur.execute(
            "INSERT INTO jobs_jobevent (job_id, seq, type, data, ts) SELECT j.id, s, 'log', '{\"text\": \"x\"}', now()"
            " FROM jobs_job j, generate_series(1, %s) AS s WHERE j.id > %s AND j.id <> %s", [per_job, before, first])
        cur.execute("UPDATE jobs_job SET last_seq = %s WHERE id = %s", [big_job_events, first])
        cur.execute("ANALYZE jobs_job; ANALYZE jobs_jobevent")
    print(f"\nloaded {n_jobs} jobs, {JobEvent.objects.count()} events in {time.perf_counter() - t0:.1f} s")
    return first, last


def plan(sql, params):
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        return "\n".join(r[0] for r in cur.fetchall())


def test_list_page_and_events_cost_a_fixed_number_of_queries(api, user, other_user, django_assert_max_num_queries):
    big, newest = bulk_load(user, other_user)
    assert JobEvent.objects.count() >= N_EVENTS * 0.99

    # the jobs list: count, page, lineage links; the same for page 1 and page 150 (no per-job queries)
    for url in ("/api/jobs/", "/api/jobs/?page=150", "/api/jobs/?status=running&kind=train"):
        with django_assert_max_num_queries(4):
            r = api.get(url)
        assert r.status_code == 200 and len(r.json()["results"]) > 0
    assert r.json()["count"] == Job.objects.filter(owner=user, status="running", kind="train").count()
    # one job's page and a page of its events from the middle
    with django_assert_max_num_queries(3):
        assert api.get(f"/api/jobs/{big}/").status_code == 200
    with django_assert_max_num_queries(3):
        events = api.get(f"/api/jobs/{big}/events/?after=40000&limit=5000").json()
    assert [e["seq"] for e in events] == list(range(40001, 45001))

    # the database answers from indexes, not by reading a table with a million rows
    # (the list's own query: the jobs of the user's projects; the memberships table is small enough to scan)
    from jobs.access import jobs_for

    page = jobs_for(user).filter(status="running").order_by("-created_at", "-id")[:50]
    sql, params = page.query.sql_with_params()
    assert "Seq Scan on jobs_job" not in plan(sql, params), plan(sql, params)
    rows = JobEvent.objects.filter(job_id=big, seq__gt=40000).order_by("seq")[:5000]
    sql, params = rows.query.sql_with_params()
    assert "Seq Scan" not in plan(sql, params), plan(sql, params)
