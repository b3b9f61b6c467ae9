"""Which workers are online and which queues they serve.

Each worker's main process writes a small record to Redis every few seconds (with a
TTL), so the dashboard and the "waiting: no worker on queue X" reason cost one Redis
read, not a Celery broadcast.
"""
from __future__ import annotations

import json
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


def beat(name: str, queues: list[str], devices) -> None:
    now = time.time()
    record = {"name": name, "queues": sorted(queues), "devices": devices, "ts": now}
    pipe = client().pipeline()
    pipe.set(_key(name), json.dumps(record), ex=int(settings.LAB_WORKER_STALE_SECONDS))
    pipe.zadd(_index(), {name: now})
    pipe.zremrangebyscore(_index(), "-inf", now - 10 * settings.LAB_WORKER_STALE_SECONDS)
    pipe.execute()


def forget(name: str) -> None:
    pipe = client().pipeline()
    pipe.delete(_key(name))
    pipe.zrem(_index(), name)
    pipe.execute()


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


def live_queues() -> set[str]:
    global _live
    read_at, queues = _live
    if time.monotonic() - read_at > LIVE_QUEUES_SECONDS:
        queues = {q for w in online() for q in w["queues"]}
        _live = (time.monotonic(), queues)
    return queues


def waiting_reason(queue: str, queues: set[str] | None = None) -> str | None:
    queues = live_queues() if queues is None else queues
    if queue not in queues:
        return f"waiting: no worker on queue {queue}"
    return None


def devices() -> list[dict] | str:
    """GPU name, memory and utilisation through NVML where present; "CPU" otherwise."""
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
            out.append({"name": name.decode() if isinstance(name, bytes) else name,
                        "memory_used": int(mem.used), "memory_total": int(mem.total),
                        "utilization": int(util.gpu)})
    finally:
        pynvml.nvmlShutdown()
    return out or "CPU"
