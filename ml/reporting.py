"""The only door from a running job to the outside world.

A runner `ml.<kind>.run(params, reporter)` reports through these five calls and
writes its files under `reporter.out_dir`, a folder that survives across attempts
of the same job (so checkpoints written there can be resumed from).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Protocol, runtime_checkable


class Cancelled(Exception):
    """Raised by a runner when `should_stop()` turned true; what it wrote so far is kept."""


@runtime_checkable
class Reporter(Protocol):
    out_dir: Path
    attempt: int

    def progress(self, done: int, total: int) -> None: ...

    def metric(self, name: str, value: float, step: int) -> None: ...

    def log(self, text: str) -> None: ...

    def artifact(self, name: str, path: str | Path, kind: str) -> None: ...

    def should_stop(self) -> bool: ...


def check_stop(reporter: Reporter) -> None:
    """Stop cooperatively at a step boundary."""
    if reporter.should_stop():
        raise Cancelled("cancelled at the user's request")


class PrintReporter:
    """Prints every report; used by `python -m ml.<kind>` and by tests of `ml/`."""

    def __init__(self, out_dir, stream=None, quiet_progress=False, attempt=1):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.stream = stream or sys.stdout
        self.quiet_progress = quiet_progress
        self.attempt = attempt
        self.events: list[dict] = []
        self._last_progress_print = 0.0

    def _record(self, type_: str, **data) -> None:
        self.events.append({"type": type_, "data": data})

    def progress(self, done, total):
        self._record("progress", done=int(done), total=int(total))
        now = time.monotonic()
        # printing every step of a 10k-step job floods the terminal; twice a second is enough
        if not self.quiet_progress and (done >= total or now - self._last_progress_print > 0.5):
            self._last_progress_print = now
            print(f"progress {done}/{total}", file=self.stream, flush=True)

    def metric(self, name, value, step):
        self._record("metric", name=name, value=float(value), step=int(step))
        print(f"metric {name}={float(value):.6g} step={int(step)}", file=self.stream, flush=True)

    def log(self, text):
        self._record("log", text=str(text))
        print(text, file=self.stream, flush=True)

    def artifact(self, name, path, kind):
        self._record("artifact", name=name, path=str(path), kind=kind)
        print(f"artifact {kind} {name}: {path}", file=self.stream, flush=True)

    def should_stop(self):
        return False

    def metrics(self, name):
        """The (step, value) series of one metric, for tests."""
        return [(e["data"]["step"], e["data"]["value"]) for e in self.events
                if e["type"] == "metric" and e["data"]["name"] == name]


def write_json(path, obj) -> Path:
    path = Path(path)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True))
    return path
