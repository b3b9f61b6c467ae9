"""Platform latencies and API throughput (issue 2).

- dispatch: POST /api/jobs/ -> the `running` status event seen by a websocket client
  (idle worker; floors on this machine: Celery publish -> task start p50 2.7 ms).
- event: Reporter call -> websocket receipt at 200 events/s (log events flush at once;
  metric events are batched every LAB_EVENT_FLUSH_SECONDS by design).
- list: GET /api/jobs/ against a bare Django JSON view serving the same rows, as a ratio.
"""
from __future__ import annotations

import json
import threading
import time

from bench.common import BenchDatabase, django_setup, pct, save, table

DISPATCH_RUNS = 40
EVENT_RATE, EVENT_SECONDS = 200, 5.0
LIST_REQUESTS = 200


def main():
    django_setup()
    with BenchDatabase():
        run()


def run():
    import httpx
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from tests.helpers import ws_connect, ws_read
    from webapp.procs import start_web, start_worker, stop

    user = get_user_model().objects.create_user("bench", password="pw")
    token = Token.objects.create(user=user).key
    worker, _ = start_worker("bench-worker")
    web, _, url = start_web()
    try:
        dispatch = measure_dispatch(url, token, ws_connect, ws_read, httpx)
        events = measure_events(url, token, user, ws_connect)
    finally:
        stop(web)
        stop(worker)
    listing = measure_list(user)
    rows = [
        {"measure": "dispatch POST->running (ms)", "p50": dispatch["p50"], "p99": dispatch["p99"], "goal": "p50<20, p99<60"},
        {"measure": "  of which POST answered (ms)", "p50": dispatch["post_answer_ms"]["p50"],
         "p99": dispatch["post_answer_ms"]["p99"], "goal": ""},
        {"measure": "event log Reporter->ws (ms)", "p50": events["log"]["p50"], "p99": events["log"]["p99"], "goal": "p99<5"},
        {"measure": "event metric Reporter->ws (ms)", "p50": events["metric"]["p50"], "p99": events["metric"]["p99"],
         "goal": "batched per flush"},
        {"measure": "GET /api/jobs/ vs bare view", "p50": listing["ratio"], "p99": None, "goal": ">=0.5"},
    ]
    print(table(rows, ["measure", "p50", "p99", "goal"]))
    save("platform", {"dispatch_ms": dispatch, "event_ms": events, "list": listing, "rows": rows})


def measure_dispatch(url, token, ws_connect, ws_read, httpx):
    http = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)
    params = {"nfe": 1, "n_samples": 1, "sampler": "ddim"}
    lat, post = [], []
    with ws_connect(url, "/ws/jobs/", token=token) as conn:
        for i in range(DISPATCH_RUNS + 3):
            t0 = time.perf_counter()
            job_id = http.post("/api/jobs/", json={"kind": "sample", "params": params}).json()["id"]
            answered = time.perf_counter() - t0
            running = None
            while True:
                ev = ws_read(conn, 60)
                if ev.get("job") != job_id or ev["type"] != "status":
                    continue
                if ev["data"]["status"] == "running" and running is None:
                    running = time.perf_counter() - t0
                if ev["data"]["status"] in ("succeeded", "failed", "cancelled"):
                    break
            if i >= 3:  # the first jobs warm the worker's child process
                lat.append(running * 1000)
                post.append(answered * 1000)
    # the POST's own answer time is part of the dispatch figure: the socket is read after it
    return {"p50": pct(lat, 50), "p99": pct(lat, 99), "n": len(lat),
            "post_answer_ms": {"p50": pct(post, 50), "p99": pct(post, 99)}}


def measure_events(url, token, user, ws_connect):
    from django.utils import timezone

    from jobs.models import Job
    from jobs.reporter import JobReporter
    from jobs.tasks import job_dir

    job = Job.objects.create(owner=user, kind="sample", status="running", started_at=timezone.now())
    rep = JobReporter(job, job_dir(job.pk))
    n = int(EVENT_RATE * EVENT_SECONDS)
    received = {"log": [], "metric": []}
    done = threading.Event()

    with ws_connect(url, f"/ws/jobs/{job.pk}/", token=token) as conn:
        def reader():
            got = 0
            while got < 2 * n:
                ev = json.loads(conn.recv(timeout=60))
                now = time.time()
                if ev["type"] == "log":
                    received["log"].append((now - float(ev["data"]["text"])) * 1000)
                    got += 1
                elif ev["type"] == "metric":
                    received["metric"].append((now - ev["data"]["value"]) * 1000)
                    got += 1
            done.set()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        start = time.perf_counter()
        for i in range(n):
            # pace at EVENT_RATE: each event has its slot in time
            delay = start + i / EVENT_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            rep.metric("sent_at", time.time(), i)
            rep.log(repr(time.time()))
        rep.close()
        done.wait(timeout=120)
    return {k: {"p50": pct(v, 50), "p99": pct(v, 99), "n": len(v)} for k, v in received.items()}


def measure_list(user):
    from django.test import Client, override_settings

    from jobs.models import Job

    Job.objects.bulk_create([Job(owner=user, kind="sample", name=f"job {i}", params={"nfe": i}) for i in range(60)])
    client = Client()
    client.force_login(user)
    out = {}
    with override_settings(ROOT_URLCONF="bench.urls"):
        for name, path in [("api", "/api/jobs/"), ("bare", "/bare/jobs/")]:
            for _ in range(10):
                assert client.get(path).status_code == 200
            t0 = time.perf_counter()
            for _ in range(LIST_REQUESTS):
                client.get(path)
            out[name] = LIST_REQUESTS / (time.perf_counter() - t0)
    return {"api_per_s": out["api"], "bare_per_s": out["bare"], "ratio": out["api"] / out["bare"]}


if __name__ == "__main__":
    main()
