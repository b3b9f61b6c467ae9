"""The Celery app: reads CELERY_* settings and finds `jobs.tasks`."""
import os

from celery import Celery, signals

from webapp.entry import default_to_local, require_settings_module

# not refused here: the launcher (`python -m webapp.lab`) imports this package before it chose settings
default_to_local()
# prefork children must not inherit a pool's connections and threads; a job's threads keep their own
os.environ["LAB_DB_POOL"] = "false"

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes every database connection before and after each task: each job
# start would open a new PostgreSQL connection (~8 ms of the dispatch latency). Connections are
# kept instead, and checked before each task the way Django checks them before each request.
app.conf.update(CELERY_DB_REUSE_MAX=1000)
app.autodiscover_tasks()


@app.on_configure.connect
def _refuse_without_settings(**kwargs):
    require_settings_module("celery")


@signals.task_prerun.connect
def _check_connections(**kwargs):
    from django.db import close_old_connections

    close_old_connections()  # closes one past CONN_MAX_AGE or broken; the next use pings first
