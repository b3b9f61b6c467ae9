"""`python -m bench.ws_watch URL PATH TOKEN N`: a websocket client in a process of its own (as a
browser is), printing "ready" once connected, then, after N log or metric events, their
latencies in ms (receipt time minus the send time each event carries) as one JSON list.
A PATH with `?batch=1` gets frames that are lists of events; both forms are read."""
import asyncio
import json
import sys
import time

import websockets


async def watch(url: str, path: str, token: str, n: int) -> list[float]:
    latencies = []
    async with websockets.connect(url.replace("http://", "ws://") + path,
                                  additional_headers={"Authorization": f"Token {token}"}) as ws:
        print("ready", flush=True)
        while len(latencies) < n:
            frame = json.loads(await ws.recv())
            now = time.time()
            for ev in frame if isinstance(frame, list) else [frame]:
                if ev["type"] == "log":
                    latencies.append((now - float(ev["data"]["text"])) * 1000)
                elif ev["type"] == "metric":
                    latencies.append((now - ev["data"]["value"]) * 1000)
    return latencies


if __name__ == "__main__":
    url, path, token, n = sys.argv[1:5]
    print(json.dumps(asyncio.run(watch(url, path, token, int(n)))), flush=True)
