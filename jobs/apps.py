from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import worker_hooks  # noqa: F401  (the Celery worker's hooks: preload, presence, reaper)
        from .passwords import flag_session_on_login
        from .projects import personal_project_on_login

        user_logged_in.connect(personal_project_on_login, dispatch_uid="jobs.personal_project")
        user_logged_in.connect(flag_session_on_login, dispatch_uid="jobs.password_change_required")
