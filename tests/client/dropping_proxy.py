"""A TCP proxy in front of the live server that cuts a websocket mid-stream, as a flaky network would.

Every connection is relayed as is; the first websocket connection is cut (both sockets shut, no close
frame) right after the server's first chunk of websocket frames has reached the client. Each request
line is recorded, so a test sees the `?after=` a client reconnected with."""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


class DroppingProxy:
    def __init__(self, upstream_url: str):
        u = urlsplit(upstream_url)
        self.upstream = (u.hostname, u.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[str] = []
        self.dropped = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def ws_requests(self) -> list[str]:
        return [r for r in self.requests if r.startswith("GET /ws/")]

    def close(self):
        self.listener.close()
        with self._lock:
            for s in self._open:
                _shut(s)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self._relay_up, args=(client, server), daemon=True).start()

    def _relay_up(self, client, server):
        first = client.recv(65536)
        line = first.split(b"\r\n", 1)[0].decode(errors="replace")
        with self._lock:
            self.requests.append(line)
            cut = line.startswith("GET /ws/") and not self.dropped.is_set() and len(self.ws_requests()) == 1
        server.sendall(first)
        threading.Thread(target=self._relay_down, args=(server, client, cut), daemon=True).start()
        _pipe(client, server)

    def _relay_down(self, server, client, cut):
        handshake_done = False
        while True:
            try:
                chunk = server.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            try:
                client.sendall(chunk)
            except OSError:
                break
            if cut:
                head, sep, frames = chunk.partition(b"\r\n\r\n") if not handshake_done else (b"", b"", chunk)
                handshake_done = handshake_done or bool(sep)
                if handshake_done and frames:
                    self.dropped.set()
                    break
        _shut(client)
        _shut(server)


def _pipe(src, dst):
    while True:
        try:
            chunk = src.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        try:
            dst.sendall(chunk)
        except OSError:
            break
    _shut(src)
    _shut(dst)


def _shut(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
