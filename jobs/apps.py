from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import worker_hooks  # noqa: F401  (the Celery worker's hooks: preload, presence, reaper)
