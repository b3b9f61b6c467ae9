"""A TCP proxy in front of the live server, the base of the proxies that play a flaky network: it accepts,
opens the upstream connection (to `target()`, the upstream unless a subclass says otherwise) and hands both
sockets to `relay`, which a subclass writes."""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit


class Proxy:
    def __init__(self, upstream_url: str):
        self.upstream = address(upstream_url)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def relay(self, client: socket.socket, server: socket.socket) -> None:
        raise NotImplementedError

    def target(self) -> tuple[str, int]:
        return self.upstream

    def close(self):
        self.listener.close()
        with self._lock:
            for s in self._open:
                shut(s)

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target())
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self.relay, args=(client, server), daemon=True).start()


def address(url: str) -> tuple[str, int]:
    u = urlsplit(url)
    return u.hostname, u.port


def pipe(src, dst, cut=lambda chunk: None):
    """Copies src to dst until either end closes, or until `cut(chunk)` answers the bytes to send last."""
    while True:
        try:
            chunk = src.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        last = cut(chunk)
        try:
            dst.sendall(chunk if last is None else last)
        except OSError:
            break
        if last is not None:
            break
    shut(src)
    shut(dst)


def shut(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
