"""Helpers for tests that talk to real servers: wait on job events, open websockets."""
from __future__ import annotations

import json
import time


def wait_for_status(job_id: int, statuses, timeout: float = 120.0):
    """Wait for the job to reach one of `statuses`, woken by its events on the channel
    layer; the database row is re-read after each event (or 2 s without one), since the
    layer may drop messages. Returns the Job."""
    from asgiref.sync import async_to_sync

    from jobs.models import Job

    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    async_to_sync(_wait_for_status)(job_id, statuses, timeout)
    return Job.objects.get(pk=job_id)


async def _wait_for_status(job_id, statuses, timeout):
    # one event loop for the whole wait: the channel layer's buffers belong to the loop that made them
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from jobs.events import job_group
    from jobs.models import Job

    def status():
        return Job.objects.values_list("status", flat=True).get(pk=job_id)

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(job_group(job_id), channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            now = await sync_to_async(status)()
            if now in statuses:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"job {job_id} still {now} after {timeout}s")
            try:
                await asyncio.wait_for(layer.receive(channel), min(left, 2.0))
            except asyncio.TimeoutError:
                pass
    finally:
        await layer.group_discard(job_group(job_id), channel)


def submit(api, kind: str, params: dict) -> int:
    """POST a job through the REST API (an APIClient); returns its id."""
    r = api.post("/api/jobs/", {"kind": kind, "params": params}, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def succeeded(job_id: int, timeout: float = 300.0):
    """Wait for the job to end; it must have succeeded. Returns the Job."""
    job = wait_for_status(job_id, {"succeeded", "failed", "cancelled"}, timeout=timeout)
    assert job.status == "succeeded", job.error
    return job


def ws_connect(url: str, path: str, token: str | None = None, cookies: dict | None = None, origin: str | None = None):
    from websockets.sync.client import connect

    headers = {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if origin:
        headers["Origin"] = origin
    return connect(url.replace("http://", "ws://") + path, additional_headers=headers, open_timeout=30)


def ws_read(conn, timeout: float = 60.0) -> dict:
    return json.loads(conn.recv(timeout=timeout))


def migrate(target=None):
    """Migrate the test database to `target` (a list of (app, migration)); None: to the newest state, which
    every other test expects to find. Returns the app registry of that state, for its historical models."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    target = target or executor.loader.graph.leaf_nodes()
    executor.migrate(target)
    return executor.loader.project_state(target).apps
