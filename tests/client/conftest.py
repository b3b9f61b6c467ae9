"""The client against the real thing: the session's live daphne server and Celery worker (tests/conftest.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .dropping_proxy import DroppingProxy

ROOT = Path(__file__).resolve().parents[2]
LAB = Path(sys.executable).parent / "lab"  # installed by make install / install-test
GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}


@pytest.fixture
def proxy(live_server_url):
    p = DroppingProxy(live_server_url)
    yield p
    p.close()


@pytest.fixture
def lab_env(tmp_path, token):
    """lab_env(url) -> the environment of a `lab` process: that URL, alice's token, its own config dir."""
    def make(url):
        env = {**os.environ, "LAB_URL": url, "LAB_TOKEN": token, "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "COLUMNS": "200"}
        return env
    return make


def lab_cmd(*args) -> list[str]:
    """The installed command where there is one, else the same module run by this interpreter."""
    return [str(LAB), *args] if LAB.exists() else [sys.executable, "-m", "labclient", *args]


def run_lab(env, *args, timeout=180, input=None) -> subprocess.CompletedProcess:
    return subprocess.run(lab_cmd(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          input=input)
