"""A proxy in front of the live server that cuts a websocket mid-stream, as a flaky network would.

Every connection is relayed as is; the first websocket connection is cut (both sockets shut, no close
frame) right after the server's first chunk of websocket frames has reached the client. Each request
line is recorded, so a test sees the `?after=` a client reconnected with."""
from __future__ import annotations

import threading

from .proxy import Proxy, pipe


class DroppingProxy(Proxy):
    def __init__(self, upstream_url: str):
        self.requests: list[str] = []
        self.dropped = threading.Event()
        super().__init__(upstream_url)

    def ws_requests(self) -> list[str]:
        return [r for r in self.requests if r.startswith("GET /ws/")]

    def relay(self, client, server):
        first = client.recv(65536)
        line = first.split(b"\r\n", 1)[0].decode(errors="replace")
        with self._lock:
            self.requests.append(line)
            cut = line.startswith("GET /ws/") and not self.dropped.is_set() and len(self.ws_requests()) == 1
        server.sendall(first)
        down = _after_first_frames(self.dropped) if cut else (lambda chunk: None)
        threading.Thread(target=pipe, args=(server, client, down), daemon=True).start()
        pipe(client, server)


def _after_first_frames(dropped: threading.Event):
    """A cut for `pipe`: the whole chunk that first carries frames past the handshake's blank line, then
    the end."""
    handshake_done = False

    def cut(chunk):
        nonlocal handshake_done
        frames = chunk if handshake_done else chunk.partition(b"\r\n\r\n")[2]
        handshake_done = handshake_done or b"\r\n\r\n" in chunk
        if handshake_done and frames:
            dropped.set()
            return chunk
        return None

    return cut
