"""A proxy in front of the live server that cuts one connection mid-request, as a flaky network would: the
first time more than `cut_after` bytes have gone up from the client on one connection, both sockets are shut
(the request half sent). With `then_url`, connections made after the cut go there: a load balancer that takes the
node which dropped a connection out of its rotation; `on_cut` is called once the request is cut, before the client
can notice (its sockets are still open)."""
from __future__ import annotations

import threading

from .proxy import Proxy, address, pipe


class CuttingProxy(Proxy):
    def __init__(self, upstream_url: str, cut_after: int, then_url: str | None = None, on_cut=None):
        self.cut_after, self.on_cut = cut_after, on_cut
        self.cut = threading.Event()
        self.after = address(then_url or upstream_url)
        super().__init__(upstream_url)

    def target(self):
        return self.after if self.cut.is_set() else self.upstream

    def relay(self, client, server):
        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        sent = 0

        def cut(chunk):
            nonlocal sent
            if not self.cut.is_set() and sent + len(chunk) > self.cut_after:
                self.cut.set()
                if self.on_cut is not None:
                    self.on_cut()
                return chunk[: self.cut_after - sent]
            sent += len(chunk)
            return None

        pipe(client, server, cut)
