"""`make test`: the same servers and code paths as production, faster password hashing."""
import hashlib
import os

from .base import *  # noqa: F401,F403
from .base import BASE_DIR, DATABASES, LAB_DATA_DIR, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# several checkouts may test against one PostgreSQL at once: each gets its own test database
_checkout = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:6]
DATABASES["default"]["TEST"] = {"NAME": env("LAB_TEST_DB_NAME", default=f"test_lab_{_checkout}")}
# a fresh Redis key space per test run, shared with the worker and web processes it starts
LAB_KEY_PREFIX = env("LAB_KEY_PREFIX", default=f"test-{os.getpid()}:")
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = LAB_KEY_PREFIX + "asgi"  # noqa: F405
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": LAB_KEY_PREFIX + "celery:"}  # noqa: F405
LAB_HEARTBEAT_SECONDS = 0.5
# off in the session's shared worker: unit tests fabricate stale heartbeats on purpose and must
# not race a sweep; the fault tests (tests/reliability) start their own workers with it on
LAB_REAPER_SECONDS = env.float("LAB_REAPER_SECONDS", default=0.0)
MEDIA_ROOT = env.path("LAB_MEDIA_ROOT", default=str(LAB_DATA_DIR / "test-media" / DATABASES["default"]["TEST"]["NAME"]))
# with the storage on S3: the run's own cache of inputs, emptied with its media (tests/conftest.py fresh_media)
LAB_CACHE_DIR = env.path("LAB_CACHE_DIR", default=str(MEDIA_ROOT) + "/cache")
# tus chunks of 1 MiB (64 MiB in production): a test file of a few MB goes up in several, so an upload can be
# cut between chunks and resume (tests/client/test_upload.py, tests/browser/test_upload.py)
LAB_UPLOAD_CHUNK_BYTES = env.int("LAB_UPLOAD_CHUNK_BYTES", default=1024**2)
REST_FRAMEWORK = {**REST_FRAMEWORK}  # noqa: F405
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "user": env("LAB_THROTTLE_USER", default="100000/min"),
    "submit": env("LAB_THROTTLE_SUBMIT", default="100000/min"),
    "upload_chunks": env("LAB_THROTTLE_UPLOAD_CHUNKS", default="100000/min"),
}
