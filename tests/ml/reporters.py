"""A real PrintReporter that asks the run to stop, as the job system's reporter does on Cancel."""
from __future__ import annotations

import io

from ml.reporting import PrintReporter


class StopAfter(PrintReporter):
    """should_stop() turns true once `stop_after` steps are reported done (None: never)."""

    def __init__(self, out_dir, stop_after=None, attempt=1):
        super().__init__(out_dir, stream=io.StringIO(), quiet_progress=True, attempt=attempt)
        self.stop_after = stop_after

    def should_stop(self):
        done = [e["data"]["done"] for e in self.events if e["type"] == "progress"]
        return self.stop_after is not None and bool(done) and done[-1] >= self.stop_after

    def logs(self):
        return [e["data"]["text"] for e in self.events if e["type"] == "log"]

    def progress_done(self):
        return [e["data"]["done"] for e in self.events if e["type"] == "progress"]
