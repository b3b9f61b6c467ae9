"""One channel-layer subscription per job per web process, fanned out in memory.

With a subscription per socket, 100 people watching one job make the channel layer
carry every event 100 times, one Redis pop each; the web process then spends its time
popping. Here a process subscribes once per job and hands each event to its local
sockets' queues, so an event costs one pop per process however many watch it.
Delivery stays at-most-once (a full socket queue drops): sockets fill gaps from the
database by `seq`, as for any lost message.
"""
from __future__ import annotations

import asyncio
import logging

from channels.layers import get_channel_layer

from .events import job_group

log = logging.getLogger(__name__)

SOCKET_QUEUE = 10000


class JobHub:
    def __init__(self, job_id: int):
        self.job_id = job_id
        self.queues: set[asyncio.Queue] = set()
        self.ready = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task | None = None
        self.channel: str | None = None

    async def start(self):
        layer = get_channel_layer()
        try:
            self.channel = await layer.new_channel()
            await layer.group_add(job_group(self.job_id), self.channel)
        except Exception as exc:
            self.ready.set_exception(exc)
            raise
        self.task = asyncio.create_task(self._pump(layer))
        self.ready.set_result(None)

    async def _pump(self, layer):
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarting: sockets catch up from the database meanwhile
                log.warning("job %s hub: channel layer receive failed", self.job_id, exc_info=True)
                await asyncio.sleep(1.0)
                try:
                    await layer.group_add(job_group(self.job_id), self.channel)
                except Exception:
                    pass
                continue
            for event in message.get("events", ()):
                for q in list(self.queues):
                    try:
                        q.put_nowait(event)
                    except asyncio.QueueFull:
                        pass  # this socket is far behind; it recovers from the database

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
    """A queue that receives the job's live events (subscribed before this returns)."""
    key = (id(asyncio.get_running_loop()), job_id)
    hub = _hubs.get(key)
    if hub is None:
        hub = _hubs[key] = JobHub(job_id)
        try:
            await hub.start()
        except Exception:
            _hubs.pop(key, None)
            raise
    else:
        await hub.ready
    q: asyncio.Queue = asyncio.Queue(maxsize=SOCKET_QUEUE)
    hub.queues.add(q)
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
