"""Shared set-up for benchmarks that need Django: a fresh database, results as JSON."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def django_setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
    import django

    django.setup()


class BenchDatabase:
    """A throw-away database for one benchmark run (created and dropped like a test database)."""

    def __enter__(self):
        from django.db import connection
        from django.test.utils import setup_test_environment

        setup_test_environment()
        self.old_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
        return self

    def __exit__(self, *exc):
        from django.db import connection

        connection.creation.destroy_test_db(self.old_name, verbosity=0)


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(f"wrote {path}")
    return path


def table(rows: list[dict], cols: list[str]) -> str:
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols), "  ".join("-" * widths[c] for c in cols)]
    lines += ["  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)
