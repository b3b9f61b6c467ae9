"""One retry loop for writes a worker must not lose while PostgreSQL restarts."""
from __future__ import annotations

import logging
import time

from django.db import connection
from django.db.utils import InterfaceError, OperationalError

log = logging.getLogger(__name__)

# a connection refused or cut: the server is down or restarting. Anything else (a DataError, an
# IntegrityError) is the job's or the code's fault, and retrying it would only hide it
DB_DOWN = (OperationalError, InterfaceError)
RETRY_SECONDS = 120.0


def retry_while_db_down(write, retry_for: float = RETRY_SECONDS, what: str = "database write"):
    """Run `write()`, reconnecting while the database is down, for up to `retry_for` seconds.

    Each thread has its own connection, which dies with the server; Django only checks it
    between requests and tasks, so a long-running job's thread must close it itself."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return write()
        except DB_DOWN:
            log.warning("%s failed while the database is down; retrying", what, exc_info=True)
            connection.close()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)  # back-off between reconnects to a restarting database
