"""Where the nodes of one multi-node training are, and how they find each other: a c10d rendezvous.

Node 0 hosts a c10d TCPStore (the key-value store torchrun's c10d rendezvous is built on) on its own
address and a port the kernel picks, then invites other nodes (the job system sends each a task with
that address). A node that comes takes the next node rank from the store's counter (`joined`), writes its
name under `node/<rank>` (after `error/<rank>` when it cannot take part: node 0 then fails the job with
that sentence) and waits for node 0's word (`go`: "1" to start, "0" when node 0 gave up);
nodes past the last rank leave at once, so node 0 may invite more nodes than it needs. The process
group is then made on the same store. Every wait has a deadline: a node that never comes, or a peer that
dies mid-run, ends the job with a sentence instead of hanging it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import torch.distributed as dist

DEFAULT_TIMEOUT_S = 300.0   # a collective waits this long for a silent peer (mid-run evaluations included)
LOCALHOST = "127.0.0.1"


class PeerLost(RuntimeError):
    """A node of the training stopped answering (its process died, its host or network went away).
    The job system counts it as a lost attempt, like a lost worker, and runs the job again."""


class NodesMissing(RuntimeError):
    """Fewer nodes joined the rendezvous than the job needs, within its deadline."""


# gloo raises a plain RuntimeError naming its transport when a peer's connection breaks or times out
TRANSPORT_WORDS = ("gloo", "NCCL", "Connection reset", "Connection closed", "Timed out", "timed out")


def is_transport_error(exc: BaseException) -> bool:
    return isinstance(exc, (dist.DistError, PeerLost)) or any(w in str(exc) for w in TRANSPORT_WORDS)


@dataclass
class Cluster:
    master_addr: str
    master_port: int
    node_rank: int = 0
    nodes: int = 1
    timeout_s: float = DEFAULT_TIMEOUT_S
    names: dict = field(default_factory=dict)       # node rank -> who (a worker's name), for messages
    store: object = field(default=None, repr=False, compare=False)

    def __getstate__(self):  # spawned ranks open their own connection to the store
        return {**self.__dict__, "store": None}

    def _timeout(self, seconds=None) -> timedelta:
        return timedelta(seconds=self.timeout_s if seconds is None else seconds)

    def lost(self, exc: BaseException) -> RuntimeError:
        """What a collective's failure on node 0 means: a peer's own error if one reported it (a fault of the
        job: PeerLost would only run it again), else the loss of a node."""
        errors = self.peer_errors()
        if errors:
            return self._failed(errors)
        others = [f"node {k} ({self.names.get(k, '?')})" for k in range(self.nodes) if k != self.node_rank]
        who = others[0] if len(others) == 1 else "one of " + ", ".join(others)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        return PeerLost(f"{who} of the {self.nodes}-node training stopped answering ({first})")

    def _failed(self, errors: dict[int, str]) -> RuntimeError:
        return RuntimeError("; ".join(f"node {k} ({self.names.get(k, '?')}) failed: {text}"
                                      for k, text in sorted(errors.items())))

    def report_error(self, text: str) -> None:
        """A peer's own exception, for node 0's message (best effort: node 0 may be gone too)."""
        try:
            self.store.set(f"error/{self.node_rank}", text[:2000])
        except Exception:  # noqa: BLE001 - the store went with node 0; nothing to tell
            pass

    def peer_errors(self) -> dict[int, str]:
        out = {}
        if self.store is None:
            return out
        for k in range(1, self.nodes):
            try:
                if self.store.check([f"error/{k}"]):
                    out[k] = self.store.get(f"error/{k}").decode()
            except Exception:  # noqa: BLE001
                break
        return out

    def wait_for_nodes(self, join_s: float, invite: Callable[[], None] | None = None, poll_s: float = 1.0) -> None:
        """Node 0: wait until nodes 1..n-1 joined, calling `invite()` each `poll_s` while some are missing
        (it sends tasks to newly seen workers). Raises NodesMissing after `join_s` (and tells joined nodes)."""
        keys = [f"node/{k}" for k in range(1, self.nodes)]
        deadline = time.monotonic() + join_s
        while True:
            try:
                if invite is not None:
                    invite()
                self.store.wait(keys, self._timeout(max(0.01, min(poll_s, deadline - time.monotonic()))))
                break
            except dist.DistStoreError:
                if time.monotonic() >= deadline:
                    self.store.set("go", "0")
                    joined = min(int(self.store.add("joined", 0)), self.nodes - 1)
                    raise NodesMissing(f"{joined} of the {self.nodes - 1} other node(s) joined within {join_s:.0f} s "
                                       f"(a {self.nodes}-node training needs {self.nodes} live workers on its queue, "
                                       f"each free to take part)") from None
            except BaseException:  # cancelled while waiting: nodes that came leave now, not at their deadline
                self.store.set("go", "0")
                raise
        self.names.update({k: self.store.get(f"node/{k}").decode() for k in range(1, self.nodes)})
        errors = self.peer_errors()  # a node that came but cannot take part (its inputs, its devices)
        self.store.set("go", "0" if errors else "1")
        if errors:
            raise self._failed(errors)

    def arrive(self) -> None:
        """A peer: tell node 0 this node is here (after report_error, if it cannot take part)."""
        self.store.set(f"node/{self.node_rank}", self.names[self.node_rank])

    def wait_go(self, join_s: float) -> bool:
        """A peer: True once node 0 says start, False when it gave up."""
        self.store.wait(["go"], timedelta(seconds=join_s))
        return self.store.get("go") == b"1"


def host(addr: str, nodes: int, name: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Cluster:
    """Node 0's side: the store on `addr` (all interfaces), on a port the kernel picks (no race)."""
    timeout = timedelta(seconds=timeout_s)
    store = dist.TCPStore(addr, 0, is_master=True, wait_for_workers=False, timeout=timeout)
    store.set("node/0", name)
    return Cluster(addr, store.port, 0, nodes, timeout_s, {0: name}, store)


def local_cluster(timeout_s: float = DEFAULT_TIMEOUT_S) -> Cluster:
    """One node: the store on the loopback address."""
    return host(LOCALHOST, 1, "this node", timeout_s)


def take_rank(addr: str, port: int, nodes: int, name: str, timeout_s: float = DEFAULT_TIMEOUT_S,
              join_s: float = 60.0) -> Cluster | None:
    """A peer's side, first step: the next node rank; None when all were taken (this node is not needed)."""
    store = dist.TCPStore(addr, port, is_master=False, timeout=timedelta(seconds=join_s))
    rank = int(store.add("joined", 1))
    if rank >= nodes:
        return None
    return Cluster(addr, port, rank, nodes, timeout_s, {0: store.get("node/0").decode(), rank: name}, store)


def join_cluster(addr: str, port: int, nodes: int, name: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                 join_s: float = 60.0) -> Cluster | None:
    """A peer's side in one call: a rank, arrived, node 0's go. None when this node is not needed (the
    ranks were taken, or node 0 gave up)."""
    cluster = take_rank(addr, port, nodes, name, timeout_s, join_s)
    if cluster is None:
        return None
    cluster.arrive()
    return cluster if cluster.wait_go(join_s) else None
