"""One private lab (its own PostgreSQL, Redis, web server) for all fault tests; workers per test."""
from __future__ import annotations

import pytest

from tests.reliability.servers import FaultLab

# workers in these tests beat every 0.5 s (test settings) and are counted lost after 10 s of
# silence: 20 missed beats. On a loaded 2-core box we measured gaps near 2 s while a job's
# child imports torch; a threshold near that would requeue jobs of live workers. Swept every 0.5 s.
WORKER_KNOBS = {"LAB_REAPER_SECONDS": 0.5, "LAB_WORKER_STALE_SECONDS": 10}


@pytest.fixture(scope="session")
def fault_lab():
    lab = FaultLab(LAB_MAX_ATTEMPTS=2, **WORKER_KNOBS)
    yield lab
    print("\n--- fault lab web output (tail) ---\n" + lab.web_out.tail(30))
    for name, (_, out, _) in lab.workers.items():
        print(f"\n--- worker {name} output (tail) ---\n" + out.tail(30))
    lab.close()


@pytest.fixture
def lab(fault_lab):
    """The lab. Its workers live on from test to test (each start costs seconds); a test that needs
    particular ones stops the others."""
    yield fault_lab
    for name, (proc, out, _) in fault_lab.workers.items():
        if proc.poll() is not None:
            print(f"\n--- worker {name} exited; output (tail) ---\n" + out.tail(30))
