"""An S3 endpoint of the test's own (moto's server, tests/s3server.py) and a lab whose processes share
nothing but PostgreSQL, Redis and that bucket: each worker and the web server have a folder of their own."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.s3server import S3Server


@pytest.fixture(scope="session")
def s3():
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nodes(s3):
    """A FaultLab (private PostgreSQL and Redis, web server) on a fresh bucket; `node(name)` starts a
    worker with empty folders of its own (MEDIA_ROOT and cache), as on a host that shares no disk."""
    from tests.reliability.conftest import WORKER_KNOBS
    from tests.reliability.servers import FaultLab

    bucket = s3.new_bucket()
    lab = FaultLab(LAB_MAX_ATTEMPTS=2, **WORKER_KNOBS, **s3.env(bucket),
                   LAB_CACHE_DIR=tempfile.mkdtemp(prefix="lab-web-cache-"))
    lab.bucket, lab.s3 = bucket, s3.client()
    lab.folders = {"web": lab.media}

    def node(name):
        root = Path(tempfile.mkdtemp(prefix=f"lab-node-{name}-"))
        lab.folders[name] = root
        lab.start_worker(name, LAB_MEDIA_ROOT=root / "media", LAB_CACHE_DIR=root / "cache")
        return root

    lab.node = node
    yield lab
    for name, (_, out, _) in lab.workers.items():
        print(f"\n--- worker {name} output (tail) ---\n" + out.tail(40))
    lab.close()
