"""What a fault test does with a lab: submit over REST, follow events over the websocket, check history."""
from __future__ import annotations

import time

import httpx

from tests.helpers import ws_connect, ws_read

TERMINAL = ("succeeded", "failed", "cancelled")


def workers_until(lab, ok, what: str, timeout: float = 60.0) -> list[dict]:
    """GET /api/workers/ (the presence records the scheduler reads) until `ok(rows)`: a worker's first beat
    follows its "ready" line, and a killed one's record outlives it by LAB_WORKER_STALE_SECONDS."""
    deadline = time.monotonic() + timeout
    with client(lab) as http:
        while not ok(rows := http.get("/api/workers/").json()):
            assert time.monotonic() < deadline, f"{what}: not within {timeout} s; workers {rows}"
    return rows


def client(lab, user="alice") -> httpx.Client:
    return httpx.Client(base_url=lab.url, headers={"Authorization": f"Token {lab.tokens[user]}"}, timeout=60)


def submit(lab, params, kind="sample", user="alice") -> int:
    r = client(lab, user).post("/api/jobs/", json={"kind": kind, "params": params})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def follow(lab, job_id, until, after=0, timeout=120.0, user="alice") -> list[dict]:
    """Events of the job from `after` on, over the lab's websocket, up to the first one `until` accepts."""
    events = []
    with ws_connect(lab.url, f"/ws/jobs/{job_id}/?after={after}", token=lab.tokens[user]) as conn:
        while True:
            ev = ws_read(conn, timeout)
            events.append(ev)
            if until(ev):
                return events


def is_terminal(ev) -> bool:
    return ev["type"] == "status" and ev["data"]["status"] in TERMINAL


def is_progress(min_done=1):
    return lambda ev: ev["type"] == "progress" and ev["data"]["done"] >= min_done


def stored_events(lab, job_id) -> list[dict]:
    r = client(lab).get(f"/api/jobs/{job_id}/events/")
    assert r.status_code == 200, r.text
    return r.json()


def assert_whole_history(events) -> list[str]:
    """Gap-free seq from 1, exactly one final status, and it is the last event. Returns the statuses."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1)), f"seq has gaps or duplicates: {seqs}"
    statuses = [e["data"]["status"] for e in events if e["type"] == "status"]
    assert sum(s in TERMINAL for s in statuses) == 1, statuses
    assert events[-1]["type"] == "status" and events[-1]["data"]["status"] in TERMINAL
    return statuses
