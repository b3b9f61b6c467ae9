"""Helpers for tests that talk to real servers: wait on job events, open websockets."""
from __future__ import annotations

import json
import time


def wait_for_status(job_id: int, statuses, timeout: float = 120.0):
    """Wait for the job to reach one of `statuses`, woken by its events on the channel
    layer; the database row is re-read after each event (or 2 s without one), since the
    layer may drop messages. Returns the Job."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from jobs.events import job_group
    from jobs.models import Job

    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group(job_id), channel)
    deadline = time.monotonic() + timeout
    try:
        while True:
            job = Job.objects.get(pk=job_id)
            if job.status in statuses:
                return job
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout}s")
            async_to_sync(_next_message)(layer, channel, min(left, 2.0))
    finally:
        async_to_sync(layer.group_discard)(job_group(job_id), channel)


async def _next_message(layer, channel, timeout):
    import asyncio

    try:
        await asyncio.wait_for(layer.receive(channel), timeout)
    except asyncio.TimeoutError:
        pass


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
