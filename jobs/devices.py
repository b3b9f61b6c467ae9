"""Which of its worker's devices a job runs on (docs/scheduling.md, Devices).

Admission counts devices per worker; here the worker gives a starting job (or node of a multi-node
training) `job.devices` of them that no other job of the worker holds, and sets CUDA_VISIBLE_DEVICES
to exactly those before the runner (and so torch) touches CUDA. The job's DDP ranks, spawned
processes, inherit it.

A device is held with an exclusive flock on its own file, taken by the pool process running the job:
the worker's pool processes share no memory, and the kernel drops a lock when its process dies, so a
killed job frees its devices with no clean-up. A worker has `max(GPUs, slots)` such units, unit k on
GPU k mod GPUs: more slots than GPUs share GPUs, as before devices were counted.

CUDA reads CUDA_VISIBLE_DEVICES once per process, at its first call: a pool process that ran a job on
one set of GPUs cannot run the next on another. A worker with several devices therefore replaces its
pool process after every task (`worker_max_tasks_per_child = 1`, set at its start).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from filelock import FileLock, Timeout

from . import workers
from .models import Job

log = logging.getLogger(__name__)

# set by the worker's main process at its start (worker_hooks.py), inherited by its pool processes
_tokens: list[str] | None = None
_slots = 1


def configure(controller) -> None:
    """At the worker's start, before its pool forks: the devices it announces and its slots; with
    several devices, one task per pool process (see the module's docstring)."""
    global _tokens, _slots
    _tokens = _announced()
    _slots = int(getattr(controller, "concurrency", None) or 1)
    if len(_tokens) > 1 and controller.max_tasks_per_child != 1:
        controller.max_tasks_per_child = 1
        log.info("%s devices: each job runs in a fresh pool process (CUDA fixes its devices once per process)",
                 len(_tokens))


def tokens() -> list[str]:
    """This worker's devices as CUDA_VISIBLE_DEVICES names them (none on a worker without GPUs)."""
    global _tokens
    if _tokens is None:  # a process the worker's start did not configure (a solo pool, a script)
        _tokens = _announced()
    return _tokens


def _announced() -> list[str]:
    found = workers.devices()
    return [d["index"] for d in found] if isinstance(found, list) else []


def _lock_dir(worker: str) -> Path:
    # the host's own temporary folder: a lock on a shared filesystem would not be this host's to hold
    path = Path(tempfile.gettempdir()) / f"lab-devices-{os.getuid()}" / f"{settings.LAB_KEY_PREFIX}{worker}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _acquire(worker: str, names: list[str], wanted: int) -> tuple[list[FileLock], list[str]]:
    """Locks on `wanted` free units (distinct GPUs first) and the GPUs they are on, in unit order."""
    units = max(len(names), _slots)
    folder = _lock_dir(worker)
    locks: list[FileLock] = []
    taken: list[int] = []
    on_gpus: set[str] = set()
    for distinct in (True, False):
        for unit in range(units):
            if len(taken) == wanted:
                break
            gpu = names[unit % len(names)]
            if unit in taken or (distinct and gpu in on_gpus):
                continue
            # kept on release: a file removed while another process opens it would lock a second inode
            lock = FileLock(folder / f"{unit}.lock", timeout=0, thread_local=False, preserve_lock_file=True)
            try:
                lock.acquire()
            except Timeout:
                continue
            locks.append(lock)
            taken.append(unit)
            on_gpus.add(gpu)
    return locks, list(dict.fromkeys(names[u % len(names)] for u in sorted(taken)))


def _record(job: Job, worker: str, names: list[str], node0: bool) -> None:
    """The assignment on the job's row, for this attempt only: node 0 starts the attempt's record,
    the other nodes add theirs."""
    value = {worker: [int(n) if n.isdigit() else n for n in names]}
    base = "'{}'::jsonb" if node0 else "coalesce(assigned_devices, '{}'::jsonb)"
    try:
        with connection.cursor() as cur:
            cur.execute(f"UPDATE {Job._meta.db_table} SET assigned_devices = {base} || %s::jsonb "
                        "WHERE id = %s AND attempts = %s", [json.dumps(value), job.pk, job.attempts])
    except DatabaseError:  # a note for the answer: the job runs on its devices all the same (its log says which)
        log.warning("job %s: could not note its devices %s", job.pk, value, exc_info=True)


def _fixed_by_cuda(current: str | None) -> str | None:
    """The devices CUDA already took in this process (a solo or threads pool runs every job in one), if any."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    return current or ",".join(tokens())


@contextlib.contextmanager
def held(job: Job, worker: str, say: Callable[[str], None], node0: bool = True) -> Iterator[list[str] | None]:
    """Around one attempt's run on this worker: `job.devices` of its devices held, CUDA_VISIBLE_DEVICES
    set to them (and put back after). None, and nothing set, on a worker that announces no devices."""
    names = tokens()
    if not names:
        yield None
        return
    wanted = min(job.devices, max(len(names), _slots))
    locks, got = _acquire(worker, names, wanted)
    if len(locks) < wanted:  # admission counted them free: a message that came to another worker than counted
        more = [n for n in names if n not in got][:max(0, min(job.devices, len(names)) - len(got))]
        got = got + more
        say(f"only {len(locks)} of the {wanted} devices it needs were free on {worker}: it shares "
            f"{', '.join(more or got)} with another job")
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    fixed = _fixed_by_cuda(before)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(got)
    try:
        _record(job, worker, got, node0)
        say(f"devices {', '.join(got)} of {worker} (CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']})")
        if fixed is not None and fixed != os.environ["CUDA_VISIBLE_DEVICES"]:
            say(f"this worker's process already set up CUDA on devices {fixed} (a solo or threads pool keeps one "
                f"process): the job runs on those; start the worker with the prefork pool to give each job its own")
        yield got
    finally:
        if before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before
        for lock in locks:
            lock.release()
