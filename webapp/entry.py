"""Which settings manage.py, asgi.py and celery.py run with when DJANGO_SETTINGS_MODULE is unset.

The local settings (DEBUG, a known secret key) are for the embedded servers only: those the launcher
handed this process (LAB_EMBEDDED), or, for manage.py, those it found under .lab/ or started. A host
with real servers and no DJANGO_SETTINGS_MODULE is refused, never served in debug mode.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys

LOCAL = "webapp.settings.local"
REFUSAL = ("DJANGO_SETTINGS_MODULE is not set: set it (webapp.settings.production for a server); the local "
           "settings run only on the embedded servers of `make run` / `python -m webapp.lab`")


def default_to_local() -> str | None:
    """The settings module, the local one where this process was given the embedded servers."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE") and os.environ.get("LAB_EMBEDDED"):
        os.environ["DJANGO_SETTINGS_MODULE"] = LOCAL
    return os.environ.get("DJANGO_SETTINGS_MODULE") or None


def require_settings_module(entry: str):
    if not default_to_local():
        sys.exit(f"{entry}: {REFUSAL}")


@contextlib.contextmanager
def manage_environment():
    """manage.py's environment: with DATABASE_URL / REDIS_URL unset and no other settings asked for,
    the embedded servers (a running lab's, or started for the command's duration)."""
    settings = os.environ.get("DJANGO_SETTINGS_MODULE") or LOCAL
    urls_set = os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")
    if os.environ.get("LAB_EMBEDDED") or urls_set or settings != LOCAL:
        require_settings_module("manage.py")
        yield
        return
    from webapp.embedded import servers
    from webapp.stopping import signals

    # a stop leaves the servers this command started; Ctrl-C stays Django's (it ends a shell's line, not the shell)
    signals.install((signal.SIGTERM, signal.SIGHUP))
    with servers() as env:
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = LOCAL
        yield
