"""Load (issue 8): many jobs, many watchers, a big database.

- jobs: 200 jobs submitted at once by 10 users (threads, REST) to 2 workers; every job must
  end exactly once with a gap-free `seq` (checked in the database), throughput printed.
- fan-out: 100 websocket clients watch one job whose reporter logs 200 events/s; every client
  must get every event once, in order; receipt latency p50/p99 over all clients. Run twice on
  the same web server: with batched frames (`?batch=1`, as the dashboard asks; "fanout") and
  with one event a frame ("fanout_unbatched"), so the two compare under the same load. The
  clients run in processes of their own (bench/ws_watch.py), 25 to an event loop.
- scale: 10,000 jobs and 1,000,000 events loaded with INSERT ... SELECT; time and query count
  of the jobs list, a job, and a page of events.
- team: the jobs list and project list of a project with 10,000 jobs and 20 members, seen by one
  member, against the same pages of one user's personal project of 10,000 jobs (the single-user
  figure), measured in turns in the same process; goal: within 1.2x.

`LAB_BENCH_SMALL=1` runs a smaller version (40 jobs, 20 clients, 100,000 events) for a quick check.
The clients, the producer and the servers share this machine's cores, so latencies are upper bounds.
"""
from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import RESULTS, BenchDatabase, django_setup, pct, save, table

SMALL = os.environ.get("LAB_BENCH_SMALL") == "1"
USERS, JOBS = (4, 40) if SMALL else (10, 200)
CLIENTS, RATE, SECONDS = (20, 200, 2.0) if SMALL else (100, 200, 5.0)
WATCH_PROCS = 4  # the clients' processes, as several browsers would be
SCALE = (10_000, 100_000, 50_000) if SMALL else (10_000, 1_000_000, 200_000)
TERMINAL = ("succeeded", "failed", "cancelled")
TEAM_JOBS, TEAM_MEMBERS, TEAM_REPEATS = 10_000, 20, 40


def main(argv=None):
    """`python -m bench.bench_load team` measures only the team pages and updates them in load.json."""
    django_setup()
    with BenchDatabase():
        if argv and list(argv) == ["team"]:
            update_team()
        else:
            run()


def run():
    from tests.procs import start_web, start_worker, stop

    workers = [start_worker(f"load{i}", extra_env={"LAB_MAX_ACTIVE_JOBS": "1000"})[0] for i in range(2)]
    web, web_out, url = start_web(extra_env={"LAB_MAX_ACTIVE_JOBS": "1000"})
    try:
        jobs = bench_jobs(url)
        unbatched = bench_fanout(url, batch=False)
        fanout = bench_fanout(url, batch=True)
    except Exception:
        print("--- web server output (tail) ---\n" + web_out.tail(80))
        raise
    finally:
        stop(web)
        for w in workers:
            stop(w)
    scale = bench_scale()
    team = bench_team()
    rows = [
        {"measure": f"{JOBS} jobs, {USERS} users, 2 workers: jobs/s", "value": jobs["jobs_per_s"],
         "p50": jobs["submit_to_end_ms"]["p50"], "p99": jobs["submit_to_end_ms"]["p99"],
         "check": f"{jobs['ended_once']}/{JOBS} ended once, {jobs['seq_gaps']} seq gaps"},
    ] + [{"measure": f"{CLIENTS} ws clients x {RATE} ev/s, {how}: latency ms", "value": f["events"],
          "p50": f["latency_ms"]["p50"], "p99": f["latency_ms"]["p99"],
          "check": f"{f['complete_in_order']}/{CLIENTS} clients got all in order, {f['frames_per_client']:.0f} frames"}
         for how, f in (("batched", fanout), ("one event a frame", unbatched))] + [{"measure": f"{name} ({SCALE[0]} jobs, {SCALE[1]} events): ms", "value": r["queries"],
          "p50": r["p50"], "p99": r["p99"], "check": "value = SQL queries"} for name, r in scale.items()] + team_rows(team)
    print(table(rows, ["measure", "value", "p50", "p99", "check"]))
    save("load", {"small": SMALL, "jobs": jobs, "fanout": fanout, "fanout_unbatched": unbatched, "scale": scale, "team": team,
                  "rows": rows})


def _users(n):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    out = []
    for i in range(n):
        u = get_user_model().objects.create_user(f"load{i}-{time.time_ns()}", password="pw")
        out.append((u, Token.objects.create(user=u).key))
    return out


def bench_jobs(url):
    import httpx
    from django.db import connection

    from jobs.models import Job
    from tests.helpers import ws_connect

    users = _users(USERS)
    params = {"sampler": "ddim", "nfe": 2, "n_samples": 10, "exact_subset": 0}
    ended, submitted = {}, {}
    lock = threading.Lock()
    streams = [ws_connect(url, "/ws/jobs/", token=tok) for _, tok in users]

    def listen(conn):
        while True:
            try:
                ev = json.loads(conn.recv(timeout=600))
            except Exception:  # closed at the end
                return
            if ev.get("type") == "status" and ev["data"]["status"] in TERMINAL:
                with lock:
                    ended.setdefault(ev["job"], time.perf_counter())

    for conn in streams:
        threading.Thread(target=listen, args=(conn,), daemon=True).start()

    def submit(i):
        _, tok = users[i % USERS]
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {tok}"}, timeout=120) as http:
            t = time.perf_counter()
            r = http.post("/api/jobs/", json={"kind": "sample", "params": params})
            r.raise_for_status()
            submitted[r.json()["id"]] = t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(submit, range(JOBS)))
    ids = list(submitted)
    deadline = time.monotonic() + 900
    # the user streams wake us; the database decides (the channel layer may drop a message)
    while Job.objects.filter(pk__in=ids).exclude(status__in=TERMINAL).exists():
        if time.monotonic() > deadline:
            raise TimeoutError("jobs did not finish in 15 min")
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    for conn in streams:
        conn.close()
    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FROM jobs_job j WHERE j.id = ANY(%s) AND (
                         SELECT count(*) FROM jobs_jobevent e WHERE e.job_id = j.id AND e.type = 'status'
                         AND e.data->>'status' IN ('succeeded', 'failed', 'cancelled')) = 1""", [ids])
        ended_once = cur.fetchone()[0]
        cur.execute("""SELECT count(*) FROM (SELECT j.id FROM jobs_job j JOIN jobs_jobevent e ON e.job_id = j.id
                         WHERE j.id = ANY(%s) GROUP BY j.id, j.last_seq
                         HAVING count(*) <> max(e.seq) OR min(e.seq) <> 1 OR max(e.seq) <> j.last_seq) g""", [ids])
        gaps = cur.fetchone()[0]
    statuses = {s: Job.objects.filter(pk__in=ids, status=s).count() for s in TERMINAL}
    lat = [(ended[i] - submitted[i]) * 1000 for i in ids if i in ended]
    return {"jobs": JOBS, "users": USERS, "wall_s": wall, "jobs_per_s": JOBS / wall, "statuses": statuses,
            "ended_once": ended_once, "seq_gaps": gaps, "seen_on_stream": len(lat),
            "submit_to_end_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99)}}


def bench_fanout(url, batch: bool):
    """The watchers are WATCH_PROCS processes of bench.ws_watch (an event loop of clients each), so
    that what is measured is the web server, not this process's GIL shared with the producer."""
    import subprocess
    import sys

    from django.utils import timezone

    from jobs.models import Job
    from jobs.reporter import JobReporter
    from jobs.tasks import job_dir

    (user, token), = _users(1)
    job = Job.objects.create(owner=user, kind="sample", status="running", started_at=timezone.now())
    n = int(RATE * SECONDS)
    path = f"/ws/jobs/{job.pk}/" + ("?batch=1" if batch else "")
    per = [CLIENTS // WATCH_PROCS + (k < CLIENTS % WATCH_PROCS) for k in range(WATCH_PROCS)]
    watchers = [subprocess.Popen([sys.executable, "-m", "bench.ws_watch", url, path, token, str(n), str(m)],
                                 stdout=subprocess.PIPE, text=True) for m in per]
    for w in watchers:
        assert w.stdout.readline().strip() == "ready"
    rep = JobReporter(job, job_dir(job))
    start = time.perf_counter()
    for i in range(n):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the producer at RATE
        rep.log(repr(time.time()))
    rep.close()
    clients = [c for w in watchers for c in json.loads(w.communicate(timeout=300)[0])]
    assert len(clients) == CLIENTS
    got = [[seq for seq, _ in c["events"]] for c in clients]
    first = got[0][0] if got[0] else 1
    complete = sum(g == list(range(first, first + n)) for g in got)
    flat = [ms for c in clients for _, ms in c["events"]]
    return {"clients": CLIENTS, "rate": RATE, "events": n, "batch": batch, "watch_processes": WATCH_PROCS,
            "complete_in_order": complete, "frames_per_client": sum(c["frames"] for c in clients) / CLIENTS,
            "latency_ms": {"p50": pct(flat, 50), "p99": pct(flat, 99), "max": max(flat)}}


def bench_scale():
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from tests.reliability.test_query_counts import bulk_load

    users = [get_user_model().objects.create_user(f"scale{i}", password="pw") for i in range(2)]
    n_jobs, n_events, big_events = SCALE
    big, _ = bulk_load(users[0], users[1], n_jobs, n_events, big_events)
    client = Client()
    client.force_login(users[0])
    out = {}
    pages = {"jobs list": "/api/jobs/", "jobs list page 100": "/api/jobs/?page=100",
             "job": f"/api/jobs/{big}/", "5000 events mid-job": f"/api/jobs/{big}/events/?after={big_events // 2}"}
    for name, path in pages.items():
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            assert client.get(path).status_code == 200
        times = []
        for _ in range(20):
            t = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = {"queries": queries[0], "p50": pct(times, 50), "p99": pct(times, 99)}
    return out


def team_rows(team: dict) -> list[dict]:
    return [{"measure": f"{name}, {TEAM_JOBS} jobs, {TEAM_MEMBERS} members: ms", "value": r["queries"],
             "p50": r["p50"], "p99": r["p99"],
             "check": f"{r['ratio']:.2f}x one user's p50 (goal <= 1.2: {'met' if r['ratio'] <= 1.2 else 'NOT met'})"}
            for name, r in team.items()]


def update_team():
    path = RESULTS / "load.json"
    old = json.loads(path.read_text()) if path.exists() else {"rows": []}
    team = bench_team()
    rows = [r for r in old.get("rows", []) if not r["measure"].endswith(f"{TEAM_MEMBERS} members: ms")] + team_rows(team)
    print(table(team_rows(team), ["measure", "value", "p50", "p99", "check"]))
    old.pop("machine", None)
    save("load", {**old, "team": team, "rows": rows})


def _load_project_jobs(project, owners, n):
    """n finished and active jobs in `project`, owned in turn by `owners`, newest first by id."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO jobs_job (owner_id, project_id, name, kind, params, status, progress, error, attempts, max_attempts,"
            " queue, worker, cancel_requested, last_seq, created_at) SELECT (%s::int[])[1 + i %% %s], %s, '',"
            " CASE WHEN i %% 3 = 0 THEN 'train' ELSE 'sample' END, '{}', (ARRAY['queued','running','succeeded',"
            "'failed','cancelled'])[1 + i %% 5], 0, '', 1, 3, 'gpu', '', false, 0, now() - make_interval(secs => i)"
            " FROM generate_series(1, %s) AS i", [[u.pk for u in owners], len(owners), project.pk, n])


def bench_team():
    """One user's 10,000-job personal project against a 20-member project of 10,000 jobs (its members'
    jobs in turn), each member also holding a personal project: the pages a member opens, timed in
    alternation so drift on a shared machine falls on both alike."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from jobs.membership import create_project
    from jobs.projects import Membership, personal_project

    users = get_user_model().objects
    solo = users.create_user("solo", password="pw")
    members = [users.create_user(f"team{i}", password="pw") for i in range(TEAM_MEMBERS)]
    team = create_project(members[0], "team")
    Membership.objects.bulk_create([Membership(project=team, user=u, role=Membership.Role.MEMBER) for u in members[1:]])
    _load_project_jobs(personal_project(solo), [solo], TEAM_JOBS)
    _load_project_jobs(team, members, TEAM_JOBS)
    with connection.cursor() as cur:
        cur.execute("ANALYZE jobs_job; ANALYZE jobs_membership; ANALYZE jobs_project")
    viewer = members[TEAM_MEMBERS // 2]
    personal_project(viewer)
    clients = {}
    for who in (solo, viewer):
        clients[who.pk] = Client()
        clients[who.pk].force_login(who)
    pages = {"jobs list": lambda u, p: f"/api/jobs/?project={p}", "project list": lambda u, p: "/api/projects/"}
    cases = {"solo": (solo, personal_project(solo).pk), "team": (viewer, team.pk)}
    out = {}
    for name, path_of in pages.items():
        times, queries = {"solo": [], "team": []}, {}
        for case, (who, project) in cases.items():
            count = [0]

            def counting(execute, sql, params, many, context):
                count[0] += 1
                return execute(sql, params, many, context)

            with connection.execute_wrapper(counting):
                answer = clients[who.pk].get(path_of(who, project))
            assert answer.status_code == 200, answer.content[:300]
            if name == "jobs list":
                assert answer.json()["count"] == TEAM_JOBS, answer.json()["count"]
            queries[case] = count[0]
        for _ in range(TEAM_REPEATS):
            for case, (who, project) in cases.items():
                t = time.perf_counter()
                clients[who.pk].get(path_of(who, project))
                times[case].append((time.perf_counter() - t) * 1000)
        solo_p50, team_p50 = pct(times["solo"], 50), pct(times["team"], 50)
        out[name] = {"queries": queries["team"], "queries_single_user": queries["solo"], "p50": team_p50,
                     "p99": pct(times["team"], 99), "single_user_p50": solo_p50,
                     "single_user_p99": pct(times["solo"], 99), "ratio": team_p50 / solo_p50}
    return out


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
