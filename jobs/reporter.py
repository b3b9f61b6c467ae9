"""The Reporter a worker hands to `ml.<kind>.run`: every call becomes a JobEvent.

High-rate `progress` / `metric` calls are buffered and written by a flusher thread at
most every LAB_EVENT_FLUSH_SECONDS (~20 writes/s per job): progress keeps only its last
value, metric points are all kept and written in one batch. `log`, `artifact` and
status changes flush at once, after what was buffered before them, so order holds.
A failed write (database restarting) keeps the buffer and is retried: no event lost.
Telemetry commits do not wait for the disk; what a database crash takes back of them is
still held here and written again (jobs/eventlog.py).
The same thread beats the job's heartbeat and reads its cancel flag, so `should_stop()`
is a memory read.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import threading
import time
from collections import deque
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models.functions import Now
from django.db.utils import DatabaseError, InterfaceError

from ml.durable import fsync_folder, replace_with

from . import objectstore
from .dbretry import retry_while_db_down
from .eventlog import TELEMETRY_TYPES, Fenced, append_events, held
from .events import ThreadSender, broadcast
from .models import Artifact, Job
from .storage import CHECKPOINT, attempt_folder
from .transfer import upload_artifact

log = logging.getLogger(__name__)

UNSURE_SECONDS = 10.0
GIL_SWITCH_SECONDS = 0.0005


def copy_durably(src: Path, dst: Path) -> tuple[int, str]:
    """Copy `src` to `dst` and wait until it is on disk; returns (size, sha256) of what was written."""
    h, size = hashlib.sha256(), 0
    with open(src, "rb") as f, open(dst, "wb") as out:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return size, h.hexdigest()


def seed_checkpoint(job_folder: Path, attempt: int) -> None:
    """Give this attempt's working folder the newest checkpoint an earlier attempt left, so a
    resume finds it. A copy, not the folder itself: a stale attempt that still runs goes on
    writing into its own folder, never into the one this attempt resumes from."""
    target = attempt_folder(job_folder, attempt) / CHECKPOINT
    if target.exists():
        return
    for k in range(attempt - 1, -1, -1):
        source = attempt_folder(job_folder, k) / CHECKPOINT
        if source.is_dir():
            def copy(tmp, source=source):
                shutil.rmtree(tmp, ignore_errors=True)  # a half-made copy of a killed attempt
                shutil.copytree(source, tmp)

            replace_with(target, copy)  # a half-made copy is never taken for a checkpoint
            return


def safe_artifact_name(name) -> str:
    """The name a download will carry: no NUL or control characters, no absolute path, no
    '.' or '..' parts (a browser saving "../../x" must not climb out of its folder)."""
    text = "".join(ch for ch in str(name).replace("\\", "/") if ch >= " " and ch != "\x7f")
    parts = [p.strip() for p in text.split("/") if p.strip() not in ("", ".", "..")]
    if not parts:
        raise ValueError(f"artifact name {name!r} names no file")
    return "/".join(parts)[:255]


class JobReporter:
    """The reporter of one attempt of a job. Its attempt number fences every write: once the job
    is no longer `running` this attempt (the reaper gave it to another worker), nothing more is
    written, and `should_stop()` turns true so the runner ends at its next step.

    The runner works in `out_dir`, this attempt's own folder under `job_folder`; artifacts are
    published from there into `job_folder`, atomically and only while the attempt holds the job."""

    def __init__(self, job: Job, job_folder: Path):
        self.job_id = job.pk
        self.project_id = job.project_id
        self.attempt = job.attempts
        self.job_folder = Path(job_folder)
        self.out_dir = attempt_folder(self.job_folder, self.attempt)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        seed_checkpoint(self.job_folder, self.attempt)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time, or a batch could be written twice
        self._wake = threading.Condition(self._lock)
        self._pending: list[tuple[str, dict]] = []
        self._pending_progress: dict | None = None
        self._job_updates: dict = {}
        self._cancel = False
        self._fenced = False
        self._closed = False
        self._urgent = False  # a log line waits: flush without waiting for the period
        self._last_beat = 0.0
        self._unsure: deque = deque()  # rows committed without waiting for the disk, oldest first
        self._unsure_at: deque = deque()
        # the job's own thread computes holding the GIL; at Python's default 5 ms switch interval each
        # step of the flusher and the broadcaster could wait that long for it (event p99 ~45 ms)
        if sys.getswitchinterval() > GIL_SWITCH_SECONDS:
            sys.setswitchinterval(GIL_SWITCH_SECONDS)
        self._sender = ThreadSender()  # the flusher's own: it sends what it wrote
        self.stop_reason: str | None = None  # set when the job is stopped from here (a sweep's pruner)
        self._pruner = _pruner_for(job.pk)
        self._thread = threading.Thread(target=self._loop, name=f"reporter-{job.pk}", daemon=True)
        self._thread.start()

    # --- the Reporter protocol (ml/reporting.py) ---

    def progress(self, done, total):
        total = max(int(total), 1)
        with self._lock:
            self._pending_progress = {"done": int(done), "total": total}
            self._job_updates["progress"] = min(max(done / total, 0.0), 1.0)

    def metric(self, name, value, step):
        value = float(value)
        # JSON has no NaN/inf; keep the point visible as null rather than break the stream
        value = value if value == value and abs(value) != float("inf") else None
        with self._lock:
            self._queue_progress()
            self._pending.append(("metric", {"name": str(name), "value": value, "step": int(step)}))

    def log(self, text):
        # written by the flusher thread, woken now: a log line reaches the database within a
        # round trip, and a job logging faster than that gets its lines batched, not blocked
        with self._lock:
            self._queue_progress()
            self._pending.append(("log", {"text": str(text)[:10000]}))
            self._urgent = True
            self._wake.notify()

    def artifact(self, name, path, kind):
        name = safe_artifact_name(name)
        path = Path(path)
        root = Path(settings.MEDIA_ROOT).resolve()
        real = path.resolve()  # follows symlinks: a link out of the storage is refused too
        if not real.is_relative_to(root):
            raise ValueError(f"artifact file {path} is outside the lab's storage")
        art = self._publish(name, real, kind, root)
        if art is None:
            return
        with self._lock:
            self._queue_progress()
            self._pending.append(("artifact", {"id": art.pk, "name": art.name, "kind": art.kind}))
        self.flush()

    def should_stop(self):
        return self._cancel or self._fenced or self.stop_reason is not None

    @property
    def fenced(self) -> bool:
        """True once another attempt holds the job (or it ended): this one must write nothing more."""
        return self._fenced

    # --- used by the task ---

    def close(self):
        with self._lock:
            self._closed = True
            self._wake.notify_all()
        self._thread.join(timeout=5)
        self.flush(retry_for=120.0)

    def flush(self, retry_for: float = 0.0):
        """Write what is buffered; with `retry_for`, keep trying that long (database restarting)."""
        def once():
            with self._flush_lock:
                self._flush_once()

        try:
            retry_while_db_down(once, retry_for, what=f"job {self.job_id}: event write")
        except Fenced:
            self._fence_lost()
        except (DatabaseError, InterfaceError):
            connection.close()
            if retry_for:
                raise
            # the buffer is kept: the flusher writes it next period

    # --- internals ---

    def _fence_lost(self):
        with self._lock:
            if not self._fenced:
                log.warning("job %s: attempt %s no longer holds the job; it writes nothing more and stops",
                            self.job_id, self.attempt)
            self._fenced = True
            self._pending.clear()
            self._pending_progress = None
            self._job_updates.clear()

    def _publish(self, name: str, path: Path, kind: str, root: Path) -> Artifact | None:
        """Copy the file into the job's folder under its name (write, fsync, rename) and store its
        row, both under the job's row lock and only while this attempt holds the job; None if not.
        Not one ml.durable.replace_with: the copy is made before the lock is taken (a large model
        must not hold the job's row), the rename only under it."""
        if self._fenced:
            return None
        if objectstore.enabled():  # uploaded under this attempt's own key: nothing to rename under the lock
            rel, size, digest = upload_artifact(self.job_folder, self.attempt, name, path)
            tmp = None
        else:
            target = self.job_folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            rel = str(target.resolve().relative_to(root))
            # made in this attempt's folder: the job's folder only ever holds published files
            tmp = self.out_dir / (".publishing-" + name.replace("/", "_"))
            size, digest = copy_durably(path, tmp)

        def write():
            with transaction.atomic():
                # the lock keeps the reaper and the next claim out until the row is committed
                if not held(self.job_id, self.attempt).select_for_update().exists():
                    return None
                if tmp is not None and tmp.exists():  # a retry after a failed commit finds it already in place
                    os.replace(tmp, target)
                    fsync_folder(target.parent)
                return Artifact.objects.update_or_create(job_id=self.job_id, name=name, defaults={
                    "kind": kind, "file": rel, "size": size, "sha256": digest,
                    "partial": False})[0]

        try:
            art = retry_while_db_down(write, what=f"job {self.job_id}: storing artifact {name}")
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        if art is None:
            self._fence_lost()
        return art

    def _queue_progress(self):
        if self._pending_progress is not None:
            self._pending.append(("progress", self._pending_progress))
            self._pending_progress = None

    def _flush_once(self):
        if self._fenced:
            return
        with self._lock:
            self._queue_progress()
            items, updates = list(self._pending), dict(self._job_updates)
        beat = time.monotonic() - self._last_beat >= settings.LAB_HEARTBEAT_SECONDS
        if not items and not updates and not beat:
            return
        if beat:
            updates["heartbeat_at"] = Now()  # the database's clock, as the reaper reads it
        # telemetry alone does not wait for the disk; an artifact or status in the batch does, and
        # that flush makes every earlier commit durable too (the WAL is flushed in order)
        durable = any(type_ not in TELEMETRY_TYPES for type_, _ in items)
        rows = (append_events(self.job_id, items, updates, durable=durable, unsure=self._unsure, fence=self.attempt)
                if (items or updates) else [])
        self._remember_unsure(rows, durable)
        with self._lock:
            # only drop what was written; calls made meanwhile stay queued
            del self._pending[: len(items)]
            for k, v in updates.items():
                if self._job_updates.get(k) == v:
                    self._job_updates.pop(k, None)
        if self._pruner is not None and self.stop_reason is None:
            self._observe(items)
        if beat:
            self._last_beat = time.monotonic()
            # a cancel, or a preemption (jobs/scheduler.py): either way the runner stops at its next step
            flags = Job.objects.filter(pk=self.job_id).values_list("cancel_requested", "preempted_by").first()
            self._cancel = bool(flags and (flags[0] or flags[1] is not None))
        if threading.current_thread() is self._thread:
            self._sender.send(self.job_id, self.project_id, rows)
        else:  # the job's own thread (an artifact, the last flush) must not wait on the broker
            broadcast(self.job_id, self.project_id, rows)

    def _observe(self, items):
        """Feed the sweep's pruner the points of its metric just stored; once it says stop, the job
        stops at its next step, cancelled with the pruner's reason."""
        points = [(d["step"], d["value"]) for t, d in items
                  if t == "metric" and d["name"] == self._pruner.metric and d["value"] is not None]
        try:
            reason = self._pruner.observe_all(points)
        except Exception:  # the search's bookkeeping must never fail the job itself
            log.warning("job %s: its sweep's pruner failed; the trial runs on", self.job_id, exc_info=True)
            self._pruner = None
            return
        if reason is not None:
            self.stop_reason = reason
            self.log(reason)

    def _remember_unsure(self, rows, durable):
        """Keep what was committed without waiting for the disk until PostgreSQL surely wrote it
        (3 x wal_writer_delay; UNSURE_SECONDS is generous), to write it again after a crash."""
        now = time.monotonic()
        if durable:
            self._unsure.clear()
            self._unsure_at.clear()
        else:
            self._unsure.extend(rows)
            self._unsure_at.extend([now] * len(rows))
        while self._unsure_at and now - self._unsure_at[0] > UNSURE_SECONDS:
            self._unsure.popleft()
            self._unsure_at.popleft()

    def _loop(self):
        period = settings.LAB_EVENT_FLUSH_SECONDS
        try:
            while True:
                with self._lock:
                    if self._closed:
                        return
                    if not self._urgent:
                        self._wake.wait(timeout=period)
                    self._urgent = False
                    if self._closed:
                        return
                self.flush()
        finally:
            self._sender.close()
            close_old_connections()
            connection.close()


def _pruner_for(job_id: int):
    try:
        from .sweeps.pruning import pruner_for

        return pruner_for(job_id)
    except Exception:
        log.warning("job %s: could not look up its sweep's pruner", job_id, exc_info=True)
        return None
