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


def _ws_base(url: str) -> str:
    return url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)


def _close_code(exc: Exception) -> int | None:
    """The server's close code of a dropped stream, None for a network failure; a refused handshake raises."""
    if isinstance(exc, ConnectionClosed):
        return exc.rcvd.code if exc.rcvd else None
    if isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403, 404):
        raise ApiError(exc.response.status_code, "websocket handshake refused") from exc
    return None


def pause(failures: int) -> None:
    """Back off before trying again after `failures` failures in a row (not a wait for an event)."""
    time.sleep(min(0.1 * 2 ** failures, 5.0))


def _back_off(failures: int, retries: int, what: str) -> int:
    """One more failed connection: give up after `retries` in a row, else wait before reconnecting."""
    failures += 1
    if failures > retries:
        raise ConnectionError(f"{what} dropped {failures} times in a row")
    pause(failures)
    return failures


def follow(url: str, token: str, job_id: int, after: int = 0, retries: int = 8,
           on_connect: Callable[[int], None] | None = None) -> Iterator[Event]:
    """Every event after `after`, once each, in seq order, up to the job's final status.
    `retries` consecutive failed connections give up; one that delivers resets the count."""
    base = _ws_base(url)
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
        except (ConnectionClosed, InvalidStatus, OSError, TimeoutError) as exc:
            code = _close_code(exc)
        if code in REFUSED:
            raise ApiError(code, REFUSED[code])
        failures = _back_off(failures, retries, f"job {job_id}: the event stream")


def follow_sweep(url: str, token: str, sweep_id: int, retries: int = 8) -> Iterator[dict]:
    """The sweep as the API answers it, over `/ws/sweeps/<id>/`: on connect and at each change, up to
    its end. Each message carries the whole state, so a reconnect loses nothing."""
    base = _ws_base(url)
    headers = {"Authorization": f"Token {token}"}
    failures = 0
    while True:
        try:
            with connect(f"{base}/ws/sweeps/{sweep_id}/", additional_headers=headers, open_timeout=30) as conn:
                for message in conn:
                    row = json.loads(message)
                    if row.get("type") != "sweep":
                        continue
                    failures = 0
                    yield row["sweep"]
                    if row["sweep"]["status"] in ("succeeded", "failed", "cancelled"):
                        return
                code = conn.close_code
        except (ConnectionClosed, InvalidStatus, OSError, TimeoutError) as exc:
            code = _close_code(exc)
        if code in REFUSED:
            raise ApiError(code, REFUSED[code].replace("job", "sweep"))
        failures = _back_off(failures, retries, f"sweep {sweep_id}: the stream")
