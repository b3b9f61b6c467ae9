"""`python -m bench.ws_watch URL PATH TOKEN N`: a websocket client in a process of its own (as a
browser is), printing "ready" once connected, then, after N log or metric events, their
latencies in ms (receipt time minus the send time each event carries) as one JSON list.
A PATH with `?batch=1` gets frames that are lists of events; both forms are read.

`... N SOCKETS`: SOCKETS clients in this one process (one event loop, not a thread each: 100
watchers as threads of the process that also produces the events measured mostly its own GIL),
printing "ready" once all are connected, then per client {"frames": count, "events": [[seq, latency ms], ...]}
(its log events)."""
import asyncio
import json
import sys
import time

import websockets

SILENCE_S = 120  # a client that hears nothing this long gives up with what it has


def _connect(url: str, path: str, token: str):
    return websockets.connect(url.replace("http://", "ws://") + path, max_queue=None,
                              additional_headers={"Authorization": f"Token {token}"})


def _events(raw):
    frame = json.loads(raw)
    return frame if isinstance(frame, list) else [frame]


async def watch(url: str, path: str, token: str, n: int) -> list[float]:
    latencies = []
    async with _connect(url, path, token) as ws:
        print("ready", flush=True)
        while len(latencies) < n:
            events = _events(await ws.recv())
            now = time.time()
            for ev in events:
                if ev["type"] == "log":
                    latencies.append((now - float(ev["data"]["text"])) * 1000)
                elif ev["type"] == "metric":
                    latencies.append((now - ev["data"]["value"]) * 1000)
    return latencies


async def watch_many(url: str, path: str, token: str, n: int, sockets: int) -> list[dict]:
    conns = [await _connect(url, path, token) for _ in range(sockets)]
    print("ready", flush=True)

    async def one(ws):
        got, frames = [], 0
        while len(got) < n:
            try:
                raw = await asyncio.wait_for(ws.recv(), SILENCE_S)
            except asyncio.TimeoutError:
                break
            now = time.time()
            frames += 1
            got += [[ev["seq"], (now - float(ev["data"]["text"])) * 1000] for ev in _events(raw) if ev["type"] == "log"]
        await ws.close()
        return {"frames": frames, "events": got}

    return await asyncio.gather(*(one(ws) for ws in conns))


if __name__ == "__main__":
    url, path, token, n = sys.argv[1:5]
    if len(sys.argv) > 5:
        print(json.dumps(asyncio.run(watch_many(url, path, token, int(n), int(sys.argv[5])))), flush=True)
    else:
        print(json.dumps(asyncio.run(watch(url, path, token, int(n)))), flush=True)
