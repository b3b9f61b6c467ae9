"""Record events of a job (stored by jobs/eventlog.py with gap-free `seq`), then broadcast them
to the channel-layer groups of the job and of its project, once committed."""
from __future__ import annotations

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from .eventlog import append_events
from .models import Job, JobEvent

log = logging.getLogger(__name__)


def job_group(job_id: int) -> str:
    return f"job-{job_id}"


def project_group(project_id: int) -> str:
    """Status and progress of every job of the project: each member's /ws/jobs/ listens to it."""
    return f"project-{project_id}"


# the jobs list page follows these without opening one socket per job
USER_STREAM_TYPES = ("status", "progress")


# a channel-layer message carries a list of events (at most 1 MB each): its cost is per message,
# so a job writing 400 events/s must not mean 400 messages/s for every listening process
MAX_EVENTS_PER_MESSAGE = 500
SEND_TIMEOUT_SECONDS = 2.0


async def _send_groups(layer, batch: list[tuple[str, dict]]) -> None:
    """(group, event) pairs, one message per group (or per MAX_EVENTS_PER_MESSAGE): groups at
    once, each group's events in order."""
    per_group: dict[str, list[dict]] = {}
    for group, event in batch:
        per_group.setdefault(group, []).append(event)

    async def send_group(group, events):
        for i in range(0, len(events), MAX_EVENTS_PER_MESSAGE):
            try:
                await layer.group_send(group, {"type": "job.events", "events": events[i:i + MAX_EVENTS_PER_MESSAGE]})
            except Exception:  # the broker may be restarting; the rows are safe in the database
                log.warning("broadcast to %s failed; clients will catch up by seq", group, exc_info=True)

    await asyncio.gather(*(send_group(group, events) for group, events in per_group.items()))


class Broadcaster:
    """Sends stored events to channel-layer groups from one event loop thread per process.

    A job never waits on the broker: `send` queues the messages and returns. One loop
    (not a fresh `async_to_sync` loop per call) keeps one Redis connection pool, and one
    queue keeps the messages in the order they were stored. Delivery is at-most-once:
    clients recover anything lost from the database by `seq`, so failures are logged."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None
        self._loop = None
        self._queue = None

    def _start(self):
        ready = threading.Event()

        def run():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._queue = asyncio.Queue()
            ready.set()
            self._loop.run_until_complete(self._pump())

        threading.Thread(target=run, name="broadcaster", daemon=True).start()
        ready.wait()
        self._pid = os.getpid()

    async def _pump(self):
        layer = get_channel_layer()
        while True:
            items = [await self._queue.get()]
            while not self._queue.empty():  # behind: merge what waits, one message per group
                items.append(self._queue.get_nowait())
            await _send_groups(layer, [pair for batch, _done in items for pair in batch])
            for _batch, done in items:
                if done is not None:
                    done.set()

    def send(self, batch: list[tuple[str, dict]], wait: float = 0.0) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child: its own thread and loop
                self._start()
        done = threading.Event() if wait else None
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (batch, done))
        if done is not None:
            done.wait(wait)


_broadcaster = Broadcaster()


def _batch(job_id: int, project_id: int, rows: list[JobEvent]) -> list[tuple[str, dict]]:
    batch = []
    for row in rows:
        event = row.as_dict()
        batch.append((job_group(job_id), event))
        if row.type in USER_STREAM_TYPES:
            batch.append((project_group(project_id), {**event, "job": job_id, "project": project_id}))
    return batch


def broadcast(job_id: int, project_id: int, rows: list[JobEvent], wait: float = 0.0) -> None:
    """Send stored events to the job's group, and status/progress to its project's group.
    With `wait`, block up to that many seconds until they are handed to the broker."""
    if not rows:
        return
    try:
        _broadcaster.send(_batch(job_id, project_id, rows), wait)
    except Exception:  # runs after commit: what is stored stays stored, and clients catch up by seq
        log.warning("job %s: could not queue its events for broadcast", job_id, exc_info=True)


def send_transient(batch: list[tuple[str, dict]]) -> None:
    """(group, message) pairs that are views of rows, not stored events (no `seq`): the scheduler's
    queue positions. Lost ones are recovered by reading the API, as on a page load."""
    if not batch:
        return
    try:
        _broadcaster.send(batch)
    except Exception:
        log.warning("could not queue %d transient messages", len(batch), exc_info=True)


class ThreadSender:
    """Sends from the calling thread, on an event loop of its own, and returns once sent: for a
    thread whose job is to write events (a reporter's flusher), the hand-off to the broadcaster
    thread was one more thread wake-up on every event's way. `close()` at the thread's end
    (closing the loop closes its Redis connections)."""

    def __init__(self):
        self._loop = None

    def send(self, job_id: int, project_id: int, rows: list[JobEvent]) -> None:
        if not rows:
            return
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:  # a broker that does not answer must not stall the writes and heartbeats of this thread
            self._loop.run_until_complete(asyncio.wait_for(
                _send_groups(get_channel_layer(), _batch(job_id, project_id, rows)), SEND_TIMEOUT_SECONDS))
        except asyncio.TimeoutError:
            log.warning("job %s: broadcast timed out; clients will catch up by seq", job_id)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None


def record_new(job: Job, item: tuple[str, dict]) -> JobEvent:
    """The first event of a job created (with last_seq=1) in the current transaction."""
    row = JobEvent.objects.create(job_id=job.pk, seq=1, type=item[0], data=item[1], ts=timezone.now())
    transaction.on_commit(lambda: broadcast(job.pk, job.project_id, [row]))
    return row


def record(job: Job, items: list[tuple[str, dict]], job_updates: dict | None = None,
           wait: float = 0.0, fence: int | None = None) -> list[JobEvent]:
    rows = append_events(job.pk, items, job_updates, fence=fence)
    # a consumer that sees the message may read the rows back: send only once they are committed
    transaction.on_commit(lambda: broadcast(job.pk, job.project_id, rows, wait))
    if job_updates and job_updates.get("status") in Job.FINISHED:
        # every final status is written here: a sweep's controller runs on its trials' ends
        from .sweeps.controller import trial_ended

        transaction.on_commit(lambda: trial_ended(job.pk))
    return rows
