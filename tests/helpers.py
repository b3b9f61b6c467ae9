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


async def _woken_by(groups, check, timeout, failure):
    """Run `check()` (sync: it reads the database) until it returns (True, value), re-run after each message
    to `groups` on the channel layer or 2 s without one, since the layer may drop messages; `failure(value)`
    words the TimeoutError. One event loop for the whole wait: the layer's buffers belong to the loop that
    made them."""
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = await layer.new_channel()
    for g in groups:
        await layer.group_add(g, channel)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while True:
            done, value = await sync_to_async(check)()
            if done:
                return value
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(await sync_to_async(failure)(value))
            try:
                await asyncio.wait_for(layer.receive(channel), min(left, 2.0))
            except asyncio.TimeoutError:
                pass
    finally:
        for g in groups:
            await layer.group_discard(g, channel)


async def _wait_for_status(job_id, statuses, timeout):
    from jobs.events import job_group
    from jobs.models import Job

    def check():
        now = Job.objects.values_list("status", flat=True).get(pk=job_id)
        return now in statuses, now

    await _woken_by([job_group(job_id)], check, timeout, lambda now: f"job {job_id} still {now} after {timeout}s")


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


def job_files(job) -> dict[str, int]:
    """{path relative to the job's folder: bytes} of every file the lab keeps for the job, wherever it
    keeps them: the objects under its prefix in the object store (LAB_STORAGE_URL), else its folder."""
    from jobs import objectstore
    from jobs.tasks import job_dir
    from jobs.transfer import job_prefix

    if objectstore.enabled():
        prefix = job_prefix(job.storage_key)
        return {e.rel[len(prefix):]: e.size for e in objectstore.store().list(prefix)}
    folder = job_dir(job)
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()} \
        if folder.is_dir() else {}


def store_artifact(job, name: str, kind: str, data: bytes):
    """An Artifact row and its file, put where the lab keeps files (Django's default storage: MEDIA_ROOT,
    or the object store), as a job would have published it."""
    import hashlib

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from jobs.models import Artifact

    rel = default_storage.save(f"jobs/{job.storage_key}/{name}", ContentFile(data))
    return Artifact.objects.create(job=job, name=name, kind=kind, file=rel, size=len(data),
                                   sha256=hashlib.sha256(data).hexdigest())


def wait_for_sweep(sweep_id: int, until, timeout: float = 120.0):
    """Wait until `until(sweep)` holds, woken by the sweep's messages (jobs/sweeps/controller.py) and
    its project's job events; the row is re-read after each (or 2 s without one). Returns the Sweep."""
    from asgiref.sync import async_to_sync

    from jobs.sweeps.models import Sweep

    async_to_sync(_wait_for_sweep)(sweep_id, until, timeout)
    return Sweep.objects.get(pk=sweep_id)


async def _wait_for_sweep(sweep_id, until, timeout):
    from asgiref.sync import sync_to_async

    from jobs.events import project_group
    from jobs.sweeps.controller import sweep_group
    from jobs.sweeps.models import Sweep

    def check():
        sweep = Sweep.objects.get(pk=sweep_id)
        return until(sweep), sweep

    project = await sync_to_async(lambda: Sweep.objects.values_list("project_id", flat=True).get(pk=sweep_id))()
    await _woken_by([sweep_group(sweep_id), project_group(project)], check, timeout,
                    lambda sweep: f"sweep {sweep_id} ({sweep.status}, {sweep.trials.count()} trials) not there "
                                  f"after {timeout}s")


def wait_for_event(job_id: int, predicate, timeout: float = 120.0) -> dict:
    """Wait for a stored event of the job that `predicate(event dict)` accepts, woken by the job's
    live events (re-reading the database after each, or 2 s without one). Returns the event."""
    from asgiref.sync import async_to_sync

    return async_to_sync(_wait_for_event)(job_id, predicate, timeout)


async def _wait_for_event(job_id, predicate, timeout):
    from jobs.events import job_group
    from jobs.models import JobEvent

    def check():
        found = next((e.as_dict() for e in JobEvent.objects.filter(job_id=job_id).order_by("seq")
                      if predicate(e.as_dict())), None)
        return found is not None, found

    return await _woken_by([job_group(job_id)], check, timeout,
                           lambda _: f"job {job_id}: no such event after {timeout}s")
