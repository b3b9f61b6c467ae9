"""One channel-layer subscription per job per web process, fanned out in memory.

With a subscription per socket, 100 people watching one job make the channel layer
carry every event 100 times, one Redis pop each; the web process then spends its time
popping. Here a process subscribes once per job and hands each event to its local
sockets' queues, so an event costs one pop per process however many watch it.
Delivery stays at-most-once (a full socket queue drops): sockets fill gaps from the
database by `seq`, as for any lost message.

Each event is serialised here, once, whatever the number of sockets: a socket's queue gets
the channel message's events as one list of `(seq, json text)`, which the socket writes as
they are (100 watchers re-encoding every event cost the web process most of its time).
"""
from __future__ import annotations

import asyncio
import json
import logging

from channels.layers import get_channel_layer

from .events import job_group

log = logging.getLogger(__name__)

# batches (one per channel message, up to events.MAX_EVENTS_PER_MESSAGE events each) a socket may
# have waiting before it drops
SOCKET_QUEUE = 1000
RETRY_SECONDS = 1.0


class JobHub:
    def __init__(self, job_id: int):
        self.job_id = job_id
        self.queues: set[asyncio.Queue] = set()
        self.ready = asyncio.get_running_loop().create_future()  # the first subscription tried
        self.task: asyncio.Task | None = None
        self.channel: str | None = None

    def start(self):
        self.task = asyncio.create_task(self._run(get_channel_layer()))

    async def _run(self, layer):
        await self._subscribe(layer)
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarting: sockets catch up from the database meanwhile
                log.warning("job %s hub: channel layer receive failed", self.job_id, exc_info=True)
                await asyncio.sleep(RETRY_SECONDS)
                await self._subscribe(layer)
                continue
            # json.dumps as the consumers' send_json writes it: the same text on the wire
            batch = [(event["seq"], json.dumps(event)) for event in message.get("events", ())]
            if not batch:
                continue
            for q in list(self.queues):
                try:
                    q.put_nowait(batch)
                except asyncio.QueueFull:
                    pass  # this socket is far behind; it recovers from the database

    async def _subscribe(self, layer):
        """Until it works: with Redis down a socket still gets every event, from the database
        (its replay, gap fills and idle catch-up), only later than live."""
        while True:
            try:
                if self.channel is None:
                    self.channel = await layer.new_channel()
                await layer.group_add(job_group(self.job_id), self.channel)
            except Exception:
                log.warning("job %s hub: cannot subscribe, retrying", self.job_id, exc_info=True)
                self._tried()  # sockets go on from the database meanwhile
                await asyncio.sleep(RETRY_SECONDS)
            else:
                self._tried()
                return

    def _tried(self):
        if not self.ready.done():
            self.ready.set_result(None)

    async def stop(self):
        if self.task:
            self.task.cancel()
        if self.channel:
            try:
                await get_channel_layer().group_discard(job_group(self.job_id), self.channel)
            except Exception:
                pass


# per event loop too: tests run several loops in one process
_hubs: dict[tuple[int, int], JobHub] = {}


async def subscribe(job_id: int) -> asyncio.Queue:
    """A queue that receives the job's live events, as lists of (seq, JSON text): subscribed before this returns, unless
    the channel layer is down (then live events start once it is back)."""
    key = (id(asyncio.get_running_loop()), job_id)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = JobHub(job_id)
        hub.start()
    q: asyncio.Queue = asyncio.Queue(maxsize=SOCKET_QUEUE)
    hub.queues.add(q)
    await hub.ready
    return q


async def unsubscribe(job_id: int, q: asyncio.Queue) -> None:
    key = (id(asyncio.get_running_loop()), job_id)
    hub = _hubs.get(key)
    if hub is None:
        return
    hub.queues.discard(q)
    if not hub.queues:
        _hubs.pop(key, None)
        await hub.stop()
