"""Real processes for tests and benchmarks: a Celery worker and an ASGI server, on the test database,
started by the launcher's own command lines (webapp/lab.py).

Readiness is an event, not a timer: the worker's "ready" line on its output, and for the
web server a socket bound here before it starts (connections queue in the backlog
until it accepts).
"""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading

from django.conf import settings

from webapp.lab import ROOT, web_command, worker_command

__all__ = ["ROOT", "OutputWatcher", "process_env", "start_web", "start_worker", "stop"]


def process_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "LAB_DB_NAME": settings.DATABASES["default"]["NAME"],
        "LAB_KEY_PREFIX": settings.LAB_KEY_PREFIX,
        "LAB_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


class OutputWatcher:
    """Keeps a process's output and lets a test wait for a line containing a text."""

    def __init__(self, proc: subprocess.Popen, name: str):
        self.proc, self.name, self.lines = proc, name, []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text: str, timeout: float) -> str:
        import time

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: no line with {text!r} in {timeout}s:\n{self.tail()}")
            try:
                line = self._q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.proc.wait()}):\n{self.tail()}")
            if text in line:
                return line

    def tail(self, n=60) -> str:
        return "".join(self.lines[-n:])


def start_worker(name: str, queues: str = "gpu,cpu", extra_env: dict | None = None, concurrency: int = 1):
    # no gossip or mingle: a test's workers need not learn of each other, and start sooner
    cmd = worker_command(queues, f"{name}@%h", concurrency, "--without-gossip", "--without-mingle")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=process_env(extra_env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watcher = OutputWatcher(proc, f"worker {name}")
    watcher.wait_for("ready.", timeout=120)
    return proc, watcher


def start_web(extra_env: dict | None = None):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    fd = sock.fileno()
    cmd = web_command("--fd", str(fd))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=process_env(extra_env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, pass_fds=(fd,), start_new_session=True)
    sock.close()  # the child holds its own copy
    return proc, OutputWatcher(proc, "web"), f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=30):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
