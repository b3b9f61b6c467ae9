"""A job's events over `/ws/jobs/<id>/?after=<seq>`, resumed after a dropped connection.

The server replays every stored event after `after`, then the live ones (jobs/consumers.py), so a
client that reconnects with the last seq it got misses nothing; the `seq <= last` check drops any
event it would see twice."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from .errors import ApiError
from .types import Event

# the server's close codes that no reconnect will change
REFUSED = {4400: "bad request", 4401: "not logged in (check the token)", 4404: "no such job, or not yours"}


def follow(url: str, token: str, job_id: int, after: int = 0, retries: int = 8,
           on_connect: Callable[[int], None] | None = None) -> Iterator[Event]:
    """Every event after `after`, once each, in seq order, up to the job's final status.
    `retries` consecutive failed connections give up; one that delivers resets the count."""
    base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    headers = {"Authorization": f"Token {token}"}
    last, failures = after, 0
    while True:
        try:
            with connect(f"{base}/ws/jobs/{job_id}/?after={last}", additional_headers=headers,
                         open_timeout=30) as conn:
                if on_connect:
                    on_connect(last)
                for message in conn:  # websockets' keepalive pings find a dead peer
                    row = json.loads(message)
                    if "seq" not in row or row.get("type") == "pong" or row["seq"] <= last:
                        continue
                    failures, last = 0, row["seq"]
                    event = Event.from_api(row)
                    yield event
                    if event.terminal:
                        return
                code = conn.close_code
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd else None
        except InvalidStatus as exc:
            if exc.response.status_code in (401, 403, 404):
                raise ApiError(exc.response.status_code, "websocket handshake refused") from exc
            code = None
        except (OSError, TimeoutError):
            code = None
        if code in REFUSED:
            raise ApiError(code, REFUSED[code])
        failures += 1
        if failures > retries:
            raise ConnectionError(f"job {job_id}: the event stream dropped {failures} times in a row")
        time.sleep(min(0.1 * 2 ** failures, 5.0))  # back off before reconnecting, not a wait for an event
