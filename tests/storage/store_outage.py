"""A TCP proxy in front of the S3 server whose first `drops` connections are shut at once, unanswered: a store
that a web node cannot reach for a moment. Every later connection is relayed as is."""
from __future__ import annotations

import threading

from tests.client.proxy import Proxy, pipe, shut


class StoreOutage(Proxy):
    def __init__(self, upstream_url: str, drops: int = 1):
        self.drops, self.dropped = drops, 0
        super().__init__(upstream_url)

    def relay(self, client, server):
        with self._lock:
            drop = self.dropped < self.drops
            self.dropped += drop
        if drop:
            shut(client)
            shut(server)
            return
        threading.Thread(target=pipe, args=(server, client), daemon=True).start()
        pipe(client, server)
