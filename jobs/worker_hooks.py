"""Celery worker hooks (connected to celery.signals, not Django signals): the worker's main process
preloads the job kinds, beats its queues into Redis, and runs the reaper."""
from __future__ import annotations

import logging
import threading

from celery.signals import worker_init, worker_ready, worker_shutdown

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

    from .registry import KINDS

    for kind in KINDS.values():
        try:
            importlib.import_module(kind.module)
        except ImportError:
            log.warning("job kind %s is not importable on this worker", kind.name, exc_info=True)


@worker_ready.connect
def start_presence(sender=None, **kwargs):
    from django.conf import settings

    from . import workers

    name = sender.hostname
    queues = [q.name for q in sender.task_consumer.queues] if sender.task_consumer else []
    _names.append(name)
    period = max(1.0, settings.LAB_WORKER_STALE_SECONDS / 6)

    def loop():
        while not _stop.is_set():
            try:
                workers.beat(name, queues, workers.devices())
            except Exception:  # Redis restarting: beat again next period
                log.warning("worker presence beat failed", exc_info=True)
            _stop.wait(period)

    threading.Thread(target=loop, name="presence", daemon=True).start()
    if settings.LAB_REAPER_SECONDS > 0:
        from . import reaper

        _reapers.append(reaper.start(settings.LAB_REAPER_SECONDS))


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
