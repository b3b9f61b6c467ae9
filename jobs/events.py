"""Append events to a job with gap-free `seq`, then broadcast them.

`seq` is allocated under a row lock on the job, so the worker's reporter and the web
process (queued / cancel events) can both write without duplicates or gaps.
"""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from .models import Job, JobEvent

log = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    return f"job-{job_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def append_events(job_id: int, items: list[tuple[str, dict]], job_updates: dict | None = None) -> list[JobEvent]:
    """Store events (and optional Job field updates) in one transaction; returns the rows."""
    if not items and not job_updates:
        return []
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().only("id", "last_seq").get(pk=job_id)
        rows = []
        for i, (type_, data) in enumerate(items, start=1):
            rows.append(JobEvent(job_id=job_id, seq=job.last_seq + i, type=type_, data=data, ts=now))
        JobEvent.objects.bulk_create(rows)
        updates = dict(job_updates or {})
        updates["last_seq"] = job.last_seq + len(rows)
        Job.objects.filter(pk=job_id).update(**updates)
    return rows


# the jobs list page follows these without opening one socket per job
USER_STREAM_TYPES = ("status", "progress")


def broadcast(job_id: int, owner_id: int, rows: list[JobEvent]) -> None:
    """Send stored events to the job's and the owner's groups. At-most-once: clients
    recover anything lost from the database by `seq`, so a failure here is only logged."""
    if not rows:
        return
    layer = get_channel_layer()
    try:
        send = async_to_sync(_send_all)
        send(layer, job_id, owner_id, rows)
    except Exception:  # the broker may be restarting; the rows are safe in the database
        log.warning("broadcast of job %s events failed; clients will catch up by seq", job_id, exc_info=True)


async def _send_all(layer, job_id, owner_id, rows):
    for row in rows:
        event = row.as_dict()
        await layer.group_send(job_group(job_id), {"type": "job.event", "event": event})
        if row.type in USER_STREAM_TYPES:
            await layer.group_send(user_group(owner_id), {"type": "job.event", "event": {**event, "job": job_id}})


def record(job: Job, items: list[tuple[str, dict]], job_updates: dict | None = None) -> list[JobEvent]:
    rows = append_events(job.pk, items, job_updates)
    # a consumer that sees the message may read the rows back: send only once they are committed
    transaction.on_commit(lambda: broadcast(job.pk, job.owner_id, rows))
    return rows
