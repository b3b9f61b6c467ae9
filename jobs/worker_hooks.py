"""Celery worker hooks (connected to celery.signals, not Django signals): the worker's main process
finds its devices (jobs/devices.py), preloads the job kinds, beats its queues into Redis, and runs the
reaper; each pool process may start processes of its own."""
from __future__ import annotations

import logging
import threading

from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown
from celery.utils.nodenames import worker_direct

log = logging.getLogger(__name__)
_stop = threading.Event()
_names: list[str] = []
_reapers: list[threading.Event] = []


@worker_init.connect
def preload_job_kinds(sender=None, **kwargs):
    """Import the ml/ modules (torch) once in the worker's main process, so each forked
    child starts a job without paying for the import. CUDA is not touched here: a
    forked child could not use a CUDA context made by its parent."""
    import importlib

    from . import devices
    from .registry import KINDS

    devices.configure(sender)  # before the pool forks: its processes inherit what it found

    for kind in KINDS.values():
        try:
            importlib.import_module(kind.module)
        except ImportError:
            log.warning("job kind %s is not importable on this worker", kind.name, exc_info=True)


@worker_process_init.connect
def let_jobs_start_processes(**kwargs):
    """A pool process is a billiard process, which multiprocessing (a `train` job's DDP ranks 1..W-1 are
    its spawned children, ml/train/ddp.py) sees as its current process: daemonic, which it forbids to
    start children, and with an authkey of billiard's type, which it refuses to pickle for a child.
    The ranks are daemonic themselves, so they still end with the pool process."""
    import multiprocessing.process
    import os

    from billiard.process import current_process

    me = current_process()
    me._config["daemon"] = False
    me._config["authkey"] = multiprocessing.process.AuthenticationString(os.urandom(32))


@worker_ready.connect
def start_presence(sender=None, **kwargs):
    from django.conf import settings

    from . import workers

    name = sender.hostname
    # not its own direct queue (CELERY_WORKER_DIRECT): no job is routed there by kind
    direct = worker_direct(name).name
    queues = [q.name for q in sender.task_consumer.queues if q.name != direct] if sender.task_consumer else []
    _names.append(name)
    period = max(1.0, settings.LAB_WORKER_STALE_SECONDS / 6)

    concurrency = _concurrency(sender)

    def loop():
        from django.db import connection

        from . import scheduler

        while not _stop.is_set():
            try:
                workers.beat(name, queues, workers.devices(), concurrency)
                # the scheduler runs on every beat too: slots freed by a lost worker, a worker that
                # just came up, a job whose pass failed while the database restarted
                scheduler.schedule()
            except Exception:  # Redis or PostgreSQL restarting: beat again next period
                log.warning("worker presence beat or scheduler pass failed", exc_info=True)
                connection.close()  # never keep a connection across a database restart
            _stop.wait(period)

    threading.Thread(target=loop, name="presence", daemon=True).start()
    if settings.LAB_REAPER_SECONDS > 0:
        from . import reaper

        _reapers.append(reaper.start(settings.LAB_REAPER_SECONDS))


def _concurrency(consumer) -> int:
    """The worker's pool size: its slots (Consumer.controller is the WorkController)."""
    controller = getattr(consumer, "controller", None)
    return int(getattr(controller, "concurrency", None) or getattr(getattr(consumer, "pool", None),
                                                                    "num_processes", None) or 1)


@worker_shutdown.connect
def stop_presence(sender=None, **kwargs):
    from . import workers

    _stop.set()
    for ev in _reapers:
        ev.set()
    for name in _names:
        try:
            workers.forget(name)
        except Exception:  # Redis gone: the record expires by itself
            pass
