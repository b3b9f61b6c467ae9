"""Fixtures that build real things: users, jobs, a Celery worker process, an ASGI server."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.procs import start_web, start_worker, stop


def pytest_collection_modifyitems(config, items):
    import os

    if os.environ.get("LAB_STORAGE_URL"):  # `LAB_TEST_STORAGE=s3 make test` (tests/s3server.py)
        skip = pytest.mark.skip(reason="checks MEDIA_ROOT's own layout; the store's is checked in tests/storage")
        for item in items:
            if "filesystem" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="pw")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="pw")


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


@pytest.fixture(scope="session")
def fresh_media(django_db_setup):
    """Job folders of earlier runs: no row of the new test database owns them (folders are named by
    storage key, so none would be resumed), but they would grow the media folder run after run and
    show up in the garbage collector's tests."""
    import shutil

    from django.conf import settings

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, and then: a sweep made in this process opened Optuna's own connections
    (jobs/sweeps/study.py), closed before the test database is dropped (open sessions block it)."""
    yield
    import sys

    if "jobs.sweeps.study" in sys.modules:
        sys.modules["jobs.sweeps.study"].close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, fresh_media):
    """One real worker process on queues gpu,cpu for the whole session."""
    proc, out = start_worker("test-worker")
    yield out
    stop(proc)
    print("\n--- worker output (tail) ---\n" + out.tail(40))


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker, fresh_media):
    """A real ASGI server (daphne) serving HTTP and websockets on the test database."""
    proc, out, url = start_web()
    yield url
    stop(proc)
    print("\n--- web output (tail) ---\n" + out.tail(40))


@pytest.fixture
def make_job(user):
    from jobs.services import create_job

    def make(kind="sample", params=None, owner=None, name="", send=False):
        """A stored job; `send=True` also enqueues it for a worker (a session worker would
        otherwise run jobs that tests of the job row itself want to stay queued)."""
        from jobs.registry import get_kind

        validated = get_kind(kind).params.model_validate(params or {})
        return create_job(owner or user, kind, validated.model_dump(mode="json", exclude_none=True), name, [],
                          send=send)

    return make


