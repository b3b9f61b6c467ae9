"""Many sockets watching one job in one process: each event is serialised once for all of them
(jobs/hub.py), and every socket still gets every event once, in order, one event a message."""
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections, transaction

from jobs.consumers import JobEventsConsumer
from jobs.events import record

pytestmark = pytest.mark.django_db(transaction=True)

WATCHERS, EVENTS = 3, 40


def _log_events(job, n):
    with transaction.atomic():  # one channel message of n events once committed
        record(job, [("log", {"text": f"line {i}"}) for i in range(n)])


async def test_each_event_is_serialised_once_for_every_watcher(make_job, user, monkeypatch):
    job = await sync_to_async(make_job)()  # seq 1: its "queued" status
    real_dumps, encoded = json.dumps, []

    def counting_dumps(obj, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("type") == "log" and "seq" in obj:
            encoded.append(obj["seq"])
        return real_dumps(obj, *args, **kwargs)

    app = JobEventsConsumer.as_asgi()
    comms = [WebsocketCommunicator(app, f"/ws/jobs/{job.pk}/?after=1") for _ in range(WATCHERS)]
    for comm in comms:
        comm.scope["user"] = user
        comm.scope["url_route"] = {"kwargs": {"job_id": str(job.pk)}}
        connected, _ = await comm.connect(timeout=10)
        assert connected
        # answered once connect() is over: subscribed and caught up (the accept comes before)
        await comm.send_json_to({"type": "ping"})
        assert await comm.receive_json_from(timeout=10) == {"type": "pong", "seq": 1}
    monkeypatch.setattr(json, "dumps", counting_dumps)  # every JSON text of this process from here on

    await sync_to_async(_log_events)(job, EVENTS)
    texts = [[await comm.receive_from(timeout=10) for _ in range(EVENTS)] for comm in comms]
    for comm in comms:
        await comm.disconnect()
    await sync_to_async(connections.close_all)()  # the consumers' thread's, or the test database stays in use

    for got in texts:
        events = [json.loads(t) for t in got]  # one event a message, as the protocol says
        assert [e["seq"] for e in events] == list(range(2, 2 + EVENTS))
        assert [e["data"]["text"] for e in events] == [f"line {i}" for i in range(EVENTS)]
    assert texts[1:] == texts[:1] * (WATCHERS - 1)  # the same bytes to every socket
    assert sorted(encoded) == list(range(2, 2 + EVENTS)), "one serialisation per event, not per watcher"


async def _watch(app, job, user, query):
    comm = WebsocketCommunicator(app, f"/ws/jobs/{job.pk}/?{query}")
    comm.scope["user"] = user
    comm.scope["url_route"] = {"kwargs": {"job_id": str(job.pk)}}
    connected, _ = await comm.connect(timeout=10)
    assert connected
    return comm


async def test_batched_socket_gets_lists_of_events_each_once_in_order(make_job, user):
    """`?batch=1`: a frame is a JSON list of events, several per frame when several wait; the
    same socket without it still gets one event a message."""
    job = await sync_to_async(make_job)()  # seq 1: its "queued" status
    app = JobEventsConsumer.as_asgi()
    batched = await _watch(app, job, user, "after=0&batch=1")
    replayed = json.loads(await batched.receive_from(timeout=10))  # the replay is batched too
    assert [(e["seq"], e["type"]) for e in replayed] == [(1, "status")]
    await batched.send_json_to({"type": "ping"})
    assert await batched.receive_json_from(timeout=10) == {"type": "pong", "seq": 1}  # not a list
    plain = await _watch(app, job, user, "after=1")
    await plain.send_json_to({"type": "ping"})
    assert await plain.receive_json_from(timeout=10) == {"type": "pong", "seq": 1}

    rounds, frames, plain_events = 3, [], []
    for r in range(rounds):
        # each round one channel message of EVENTS events, read whole before the next is sent
        await sync_to_async(_log_events)(job, EVENTS)
        got = 0
        while got < EVENTS:
            frame = json.loads(await batched.receive_from(timeout=10))
            assert isinstance(frame, list) and frame, frame
            frames.append(frame)
            got += len(frame)
        plain_events += [json.loads(await plain.receive_from(timeout=10)) for _ in range(EVENTS)]
    assert await batched.receive_nothing(timeout=0.2)
    for comm in (batched, plain):
        await comm.disconnect()
    await sync_to_async(connections.close_all)()

    seqs = list(range(2, 2 + rounds * EVENTS))
    events = [e for frame in frames for e in frame]
    assert [e["seq"] for e in events] == seqs  # every event once, in order, across the frames
    assert len(frames) >= rounds and max(len(f) for f in frames) > 1
    assert all(isinstance(e, dict) for e in plain_events)  # unbatched: one event a message
    assert plain_events == events
