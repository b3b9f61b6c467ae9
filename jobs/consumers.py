"""Websockets: a job's events (replay from the database, then live) and a user's job statuses.

The database is the truth. On connect the consumer subscribes to the job's live events
first (through this process's hub, jobs/hub.py), then replays stored events after
`?after=`; live events that arrive meanwhile wait in its queue and are deduplicated by
`seq` afterwards. A gap in the live stream (the channel
layer drops silently when full) is filled from the database, so a client sees every
event once, in order.

`?batch=1` (opt-in) makes every event frame a JSON list of one or more events: at 100
watchers of a busy job the web process's time goes into sending frames, not events, so
what waits for a socket leaves as one frame. The hub's texts are joined, not re-encoded.
"""
from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .access import jobs_for, projects_for
from . import hub
from .events import project_group
from .models import JobEvent
from .projects import personal_project

REPLAY_BATCH = 2000
# a quiet socket re-reads the database this often: the last message of a job may have
# been dropped by the channel layer (or lost while Redis restarted), and nothing would
# follow it to reveal the gap
IDLE_CATCH_UP_SECONDS = 3.0


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    # live events come through this process's hub, not a channel of its own (a channel would
    # cost a subscription per socket, and with Redis down would fail the handshake)
    channel_layer_alias = "no channel of its own"

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
            query = parse_qs(self.scope.get("query_string", b"").decode())
            after = int(query.get("after", ["0"])[0])
            self.batch = query.get("batch", ["0"])[0] == "1"
        except (KeyError, ValueError):
            await self.close(code=4400)
            return
        if not await self._visible(user, job_id):
            await self.close(code=4404)
            return
        self.job_id, self.last_seq = job_id, max(after, 0)
        self._deliver = asyncio.Lock()  # the idle poller and live events must not interleave
        self._last_activity = time.monotonic()
        self._live = await hub.subscribe(job_id)
        async with self._deliver:
            await self._catch_up()
        self._tasks = [asyncio.create_task(self._pump_live()), asyncio.create_task(self._poll_when_idle())]

    async def disconnect(self, code):
        for task in getattr(self, "_tasks", []):
            task.cancel()
        if getattr(self, "_live", None) is not None:
            await hub.unsubscribe(self.job_id, self._live)

    async def _pump_live(self):
        while True:
            batches = [await self._live.get()]
            while not self._live.empty():  # behind: everything waiting in one turn of the lock
                batches.append(self._live.get_nowait())
            await self._send_live([item for batch in batches for item in batch])

    async def _poll_when_idle(self):
        while True:
            await asyncio.sleep(IDLE_CATCH_UP_SECONDS)
            if time.monotonic() - self._last_activity >= IDLE_CATCH_UP_SECONDS:
                async with self._deliver:
                    await self._catch_up()

    async def receive_json(self, content, **kwargs):
        # clients only listen; a ping gets a pong so they can detect dead connections
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "seq": self.last_seq})

    async def _send_live(self, items: list[tuple[int, str]]):
        """(seq, JSON text) from the hub, serialised once there for every socket. Unbatched: one
        event a message, as the protocol says; batched: all that is new in one frame."""
        async with self._deliver:
            self._last_activity = time.monotonic()
            texts = []
            for seq, text in items:
                if seq <= self.last_seq:
                    continue
                if seq > self.last_seq + 1:
                    await self._write(texts)  # what came before the gap leaves before its fill
                    texts = []
                    await self._catch_up(until=seq - 1)
                    if seq <= self.last_seq:
                        continue
                texts.append(text)
                self.last_seq = seq
            await self._write(texts)

    async def _write(self, texts: list[str]):
        if not texts:
            return
        if self.batch:
            await self._send_text("[" + ",".join(texts) + "]")
            return
        for text in texts:
            await self._send_text(text)

    async def _send_text(self, text: str):
        # straight to the ASGI send: send()/send_json() add two wrapper calls a frame
        await self.base_send({"type": "websocket.send", "text": text})

    async def _catch_up(self, until=None):
        while True:
            rows = await self._events_after(self.last_seq, until)
            if rows:
                await self._write([json.dumps(event) for event in rows])
                self.last_seq = rows[-1]["seq"]
                self._last_activity = time.monotonic()
            if len(rows) < REPLAY_BATCH:
                return

    @database_sync_to_async
    def _visible(self, user, job_id):
        return jobs_for(user).filter(pk=job_id).exists()

    @database_sync_to_async
    def _events_after(self, after, until):
        qs = JobEvent.objects.filter(job_id=self.job_id, seq__gt=after)
        if until is not None:
            qs = qs.filter(seq__lte=until)
        return [e.as_dict() for e in qs.order_by("seq")[:REPLAY_BATCH]]


class GroupsConsumer(AsyncJsonWebsocketConsumer):
    """A stream of the channel groups it joins (`join`; `connect` starts `groups_joined` empty), left on
    disconnect; answers the client's pings."""

    groups_joined: list[str]

    async def join(self, group: str):
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)

    async def disconnect(self, code):
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})


class UserJobsConsumer(GroupsConsumer):
    """Status and progress of the jobs of all the user's projects, each event with "job": id.
    The projects are those of the moment it connects (a member added later reconnects)."""

    async def connect(self):
        self.groups_joined = []
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        # `?queue=1`: also the scheduler's queue positions ({"type": "queue", ...}, no "job": one message
        # per project); off by default, so that every other event of this stream names its job
        self.queue = parse_qs(self.scope.get("query_string", b"").decode()).get("queue", ["0"])[0] == "1"
        # each job's newest seq sent: a job's events come from several processes (the web's `queued`, the
        # worker's `running`), each broadcasting on its own, so an older one can come after a newer one
        self.newest: dict[int, int] = {}
        for project_id in await self._project_ids(user):
            await self.join(project_group(project_id))

    @database_sync_to_async
    def _project_ids(self, user):
        personal_project(user)  # made on first need: a script's first job may come after it connects
        return list(projects_for(user).values_list("id", flat=True))

    async def job_events(self, message):
        for event in message["events"]:
            if event.get("type") == "queue" and not self.queue:
                continue
            job, seq = event.get("job"), event.get("seq")
            if job is not None and seq is not None:
                if seq <= self.newest.get(job, 0):
                    continue  # older than what the client has: a `queued` after `running` would undo it
                self.newest[job] = seq
            await self.send_json(event)
