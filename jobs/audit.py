"""The audit log: who created, cancelled, retried, deleted or downloaded what, who changed a member
or a token, when and from which address. Append-only for the application.

- Append-only: `AuditEntry.save` of a stored row, `.delete()` and the queryset's `update`/`delete`
  raise; below the ORM a PostgreSQL trigger (migration 0006_audit) refuses UPDATE and DELETE of any
  row, raw SQL included. TRUNCATE is left to the database's owner (an operator's act, and what a
  test database's flush does).
- No foreign keys: an entry outlives the user, job and project it names. It keeps their ids and
  names as text, so deleting any of them (a project's cascade included) never has to touch the
  log, and the trigger never has to make an exception.
- The address is REMOTE_ADDR. Behind the Caddy proxy of docker/, daphne runs with --proxy-headers,
  so REMOTE_ADDR is already the client's (as for the login brake, jobs/login.py); the app itself
  never reads X-Forwarded-For, which a client could write.
- `record` is called from the one place each action happens (jobs/services.py, the download view,
  the member and token views), inside the action's transaction: an action that rolls back leaves no
  entry. Services get a user, not a request: `RequestAddress` (a middleware) keeps the current
  request's address for them.
"""
from __future__ import annotations

import contextvars

from django.db import models


class Action(models.TextChoices):
    CREATE = "create"        # a job
    CANCEL = "cancel"
    RETRY = "retry"
    DELETE = "delete"
    DOWNLOAD = "download"    # an artifact
    MEMBER_ADD = "member.add"
    MEMBER_CHANGE = "member.change"
    MEMBER_REMOVE = "member.remove"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"


class AppendOnly(Exception):
    pass


REFUSED = "the audit log is append-only"


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnly(REFUSED)

    def delete(self):
        raise AppendOnly(REFUSED)

    def bulk_update(self, *args, **kwargs):
        raise AppendOnly(REFUSED)


class AuditEntry(models.Model):
    ts = models.DateTimeField(auto_now_add=True, db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True)  # None: no logged-in user (a system action)
    username = models.CharField(max_length=150, blank=True)
    address = models.CharField(max_length=64, blank=True)  # as the server saw it (not always an IP)
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=300)  # "job 12", "artifact 40", "member bob", "token ci"
    detail = models.CharField(max_length=300, blank=True)  # e.g. a retry's new job, a member's new role
    project_id = models.BigIntegerField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        app_label = "jobs"
        verbose_name_plural = "audit entries"
        ordering = ["-ts", "-id"]
        indexes = [models.Index(fields=["project_id", "-ts", "-id"])]

    def __str__(self):
        return f"{self.ts:%Y-%m-%d %H:%M:%S} {self.username or '-'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnly(REFUSED)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly(REFUSED)


_address: contextvars.ContextVar[str] = contextvars.ContextVar("audit_address", default="")


class RequestAddress:
    """Middleware: the request's REMOTE_ADDR for `record` calls that get only a user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _address.set(request.META.get("REMOTE_ADDR", ""))
        try:
            return self.get_response(request)
        finally:
            _address.reset(token)


def _is_request(obj) -> bool:
    return hasattr(obj, "META") and hasattr(obj, "user")


def record(request_or_user, action: str, target: str, project=None, detail: str = "") -> AuditEntry:
    """One entry: `request_or_user` is a request (its user and REMOTE_ADDR) or a user (the address of
    the request being served, if any); `project` a Project, its id, or None."""
    if _is_request(request_or_user):
        user, address = request_or_user.user, request_or_user.META.get("REMOTE_ADDR", "")
    else:
        user, address = request_or_user, _address.get()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    project_id = getattr(project, "pk", project)
    return AuditEntry.objects.create(
        user_id=user.pk if user else None, username=user.get_username() if user else "",
        address=str(address)[:64], action=str(action), target=target[:300], detail=detail[:300], project_id=project_id)
