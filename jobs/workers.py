"""Which workers are online and which queues they serve.

Each worker's main process writes a small record to Redis every few seconds (with a
TTL), so the dashboard and the "waiting: no worker on queue X" reason cost one Redis
read, not a Celery broadcast.
"""
from __future__ import annotations

import json
import os
import socket
import time

import redis
from django.conf import settings

_client = None


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def _key(name: str) -> str:
    return f"{settings.LAB_KEY_PREFIX}worker:{name}"


def _index() -> str:
    # names by last beat: finding the live workers is one range read, not a scan of the keyspace
    return f"{settings.LAB_KEY_PREFIX}workers"


def node_address() -> str:
    """The address other workers reach this one at (a multi-node training's rendezvous, docs/multinode.md)."""
    if settings.LAB_NODE_ADDRESS:
        return settings.LAB_NODE_ADDRESS
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:  # a hostname the resolver does not know: only this host can reach it
        return "127.0.0.1"


def beat(name: str, queues: list[str], devices, concurrency: int = 1) -> None:
    now = time.time()
    # `concurrency`: the worker's slots, which the scheduler (jobs/scheduler.py) fills
    record = {"name": name, "queues": sorted(queues), "devices": devices, "concurrency": concurrency, "ts": now,
              "address": node_address()}
    pipe = client().pipeline()
    pipe.set(_key(name), json.dumps(record), ex=int(settings.LAB_WORKER_STALE_SECONDS))
    pipe.zadd(_index(), {name: now})
    pipe.zremrangebyscore(_index(), "-inf", now - 10 * settings.LAB_WORKER_STALE_SECONDS)
    pipe.execute()
    _forget_cached()


def _forget_cached() -> None:
    """This process changed the set of workers: its cached view of them is stale."""
    global _online, _live
    _online, _live = (float("-inf"), []), (float("-inf"), set())


def forget(name: str) -> None:
    pipe = client().pipeline()
    pipe.delete(_key(name))
    pipe.zrem(_index(), name)
    pipe.execute()
    _forget_cached()


def online() -> list[dict]:
    try:
        since = time.time() - settings.LAB_WORKER_STALE_SECONDS
        names = sorted(n.decode() for n in client().zrangebyscore(_index(), since, "+inf"))
        values = client().mget([_key(n) for n in names]) if names else []
    except redis.RedisError:
        return []
    return [json.loads(v) for v in values if v]


# (read at, queues): a queued job's answer asks for these, and workers beat only every few seconds
_live: tuple[float, set[str]] = (float("-inf"), set())
LIVE_QUEUES_SECONDS = 1.0


_online: tuple[float, list[dict]] = (float("-inf"), [])


def online_cached() -> list[dict]:
    """`online()` as read at most LIVE_QUEUES_SECONDS ago: for answers (a job's waiting reason and
    place), never for the scheduler's decisions, which read it fresh."""
    global _online
    read_at, records = _online
    if time.monotonic() - read_at > LIVE_QUEUES_SECONDS:
        records = online()
        _online = (time.monotonic(), records)
    return records


def live_queues() -> set[str]:
    global _live
    read_at, queues = _live
    if time.monotonic() - read_at > LIVE_QUEUES_SECONDS:
        queues = {q for w in online_cached() for q in w["queues"]}
        _live = (time.monotonic(), queues)
    return queues


def waiting_reason(queue: str, queues: set[str] | None = None) -> str | None:
    queues = live_queues() if queues is None else queues
    if queue not in queues:
        return f"waiting: no worker on queue {queue}"
    return None


def devices() -> list[dict] | str:
    """GPU name, memory and utilisation through NVML where present; "CPU" otherwise. Each GPU's
    `index` is how CUDA_VISIBLE_DEVICES names it (jobs/devices.py gives each job its own); a worker
    started with CUDA_VISIBLE_DEVICES announces only those (NVML itself sees every GPU of the host).
    With LAB_FAKE_DEVICES = N (tests only): N devices named "fake", indices 0..N-1, no NVML."""
    if settings.LAB_FAKE_DEVICES:
        return [{"name": "fake", "index": str(k), "memory_used": 0, "memory_total": 0, "utilization": 0}
                for k in range(settings.LAB_FAKE_DEVICES)]
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return "CPU"
    out = []
    try:
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h)
            name = pynvml.nvmlDeviceGetName(h)
            uuid = pynvml.nvmlDeviceGetUUID(h)
            out.append({"name": name.decode() if isinstance(name, bytes) else name, "index": str(i),
                        "uuid": uuid.decode() if isinstance(uuid, bytes) else uuid,
                        "memory_used": int(mem.used), "memory_total": int(mem.total),
                        "utilization": int(util.gpu)})
    finally:
        pynvml.nvmlShutdown()
    return visible(out, os.environ.get("CUDA_VISIBLE_DEVICES")) or "CPU"


def visible(gpus: list[dict], mask: str | None) -> list[dict]:
    """The GPUs a CUDA_VISIBLE_DEVICES value leaves, in its order, each named as it names it: CUDA
    takes indices or UUIDs (a unique prefix of one), stops at the first token it cannot match, and
    an empty value hides every GPU."""
    if mask is None:
        return gpus
    out, seen = [], set()
    for token in (t.strip() for t in mask.split(",")):
        match = [g for g in gpus if token and (g["index"] == token or g.get("uuid", "").startswith(token))]
        if token.startswith("MIG-"):  # a MIG instance: NVML's list holds its parent GPU, not it
            match = [{"name": f"MIG instance {token}", "uuid": token}]
        if len(match) != 1 or match[0].get("uuid", token) in seen:
            break
        seen.add(match[0].get("uuid", token))
        out.append({**match[0], "index": token})
    return out
