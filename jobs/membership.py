"""What a project's admins do: make projects, add, change and remove members, set the quota; and
what the project page shows of its usage. The REST API and the pages call these; each refusal is a
jobs.services error (404 for a project the user is not in, 403 for a role that does not allow it,
400 naming the field)."""
from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import DateTimeField, F, Sum, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from .api.nul import MESSAGE as NUL_MESSAGE, NUL
from . import audit, scheduler
from .access import ADMIN, RANK, may_manage, role_in
from .models import Job
from .projects import Membership, Project
from .services import BadInput, NoSuchProject, NotAllowed

NAME_MAX = Project._meta.get_field("name").max_length
USAGE_WINDOW = timedelta(days=7)


def visible_project(user, project_id) -> tuple[Project, str]:
    """(project, the user's role in it); NoSuchProject unless they are a member (or staff)."""
    project = Project.objects.filter(pk=project_id).first() if isinstance(project_id, int) else None
    role = role_in(user, project.pk) if project else None
    if role is None:
        raise NoSuchProject(project_id)
    return project, role


def _managed(user, project_id, lock=False) -> Project:
    project, _role = visible_project(user, project_id)
    if not may_manage(user, project.pk):
        raise NotAllowed("only the project's admins manage its members and quota")
    if lock:  # member changes of one project queue behind each other: the last-admin rule holds
        project = Project.objects.select_for_update().get(pk=project.pk)
    return project


def _no_nul(field, value) -> None:
    """PostgreSQL refuses NUL in text: a 400 naming the field, not a 500."""
    if isinstance(value, str) and NUL in value:
        raise BadInput({field: [NUL_MESSAGE]})


def create_project(user, name) -> Project:
    if not isinstance(name, str) or not name.strip():
        raise BadInput({"name": ["a project needs a name"]})
    _no_nul("name", name)
    if len(name.strip()) > NAME_MAX:
        raise BadInput({"name": [f"at most {NAME_MAX} characters"]})
    with transaction.atomic():
        project = Project.objects.create(name=name.strip())
        Membership.objects.create(project=project, user=user, role=ADMIN)
    return project


def set_max_running(user, project_id, value) -> Project:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000):
        raise BadInput({"max_running": ["a whole number from 1 to 10000, or null for no project quota"]})
    with transaction.atomic():
        project = _managed(user, project_id, lock=True)
        project.max_running = value
        project.save(update_fields=["max_running"])
    scheduler.schedule_soon()  # a raised quota lets waiting jobs start now
    return project


def set_preemptible(user, project_id, value) -> Project:
    """Whether `high` jobs may stop the project's `low` ones (docs/scheduling.md)."""
    if not isinstance(value, bool):
        raise BadInput({"preemptible": ["true or false"]})
    with transaction.atomic():
        project = _managed(user, project_id, lock=True)
        project.preemptible = value
        project.save(update_fields=["preemptible"])
    return project


def set_member(user, project_id, username, role) -> Membership:
    """Add `username` with `role`, or change their role."""
    if role not in RANK:
        raise BadInput({"role": [f"one of {', '.join(RANK)}"]})
    if not isinstance(username, str) or not username:
        raise BadInput({"username": ["the username of the user to add"]})
    _no_nul("username", username)
    with transaction.atomic():
        project = _managed(user, project_id, lock=True)
        target = get_user_model().objects.filter(username=username, is_active=True).first()
        if target is None:
            raise BadInput({"username": [f"no active user {username!r}"]})
        current = Membership.objects.filter(project=project, user=target).first()
        if current is not None and current.role == ADMIN and role != ADMIN:
            _keep_an_admin(project, target, "role")
        if current is None:
            audit.record(user, audit.Action.MEMBER_ADD, f"member {username}", project=project, detail=role)
            return Membership.objects.create(project=project, user=target, role=role)
        audit.record(user, audit.Action.MEMBER_CHANGE, f"member {username}", project=project,
                     detail=f"{current.role} -> {role}")
        current.role = role
        current.save(update_fields=["role"])
        return current


def remove_member(user, project_id, username) -> None:
    """Admins remove anyone; any member may leave."""
    _no_nul("username", username)
    with transaction.atomic():
        project, _role = visible_project(user, project_id)
        if username != user.get_username():
            project = _managed(user, project_id, lock=True)
        else:
            project = Project.objects.select_for_update().get(pk=project.pk)
        current = Membership.objects.filter(project=project, user__username=username).select_related("user").first()
        if current is None:
            raise BadInput({"username": [f"{username!r} is not a member of this project"]})
        if current.role == ADMIN:
            _keep_an_admin(project, current.user, "username")
        if project.personal_of_id == current.user_id:
            raise BadInput({"username": [f"this is {username}'s personal project: they stay its admin"]})
        audit.record(user, audit.Action.MEMBER_REMOVE, f"member {username}", project=project, detail=current.role)
        current.delete()


def _keep_an_admin(project, leaving, field) -> None:
    if project.personal_of_id == leaving.pk:
        raise BadInput({field: [f"this is {leaving.get_username()}'s personal project: they stay its admin"]})
    others = Membership.objects.filter(project=project, role=ADMIN).exclude(user=leaving)
    if not others.exists():
        raise BadInput({field: [f"{leaving.get_username()} is the project's only admin: make another member admin "
                                f"first (a project keeps at least one)"]})


def members(project) -> list[dict]:
    rows = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    return [{"username": m.user.get_username(), "role": m.role} for m in rows]


def usage(project, now=None) -> dict:
    """Running jobs, GPU-hours of the last 7 days (each GPU-queue job's run time inside the window,
    a running one counted until now) and bytes stored by the project's jobs."""
    now = now or timezone.now()
    since = now - USAGE_WINDOW
    at_now, at_since = Value(now, output_field=DateTimeField()), Value(since, output_field=DateTimeField())
    jobs = Job.objects.filter(project=project)
    ran = (jobs.filter(queue="gpu", started_at__isnull=False, started_at__lt=now)
           .exclude(finished_at__lt=since)
           .annotate(run=Least(F("finished_at"), at_now) - Greatest(F("started_at"), at_since))
           .aggregate(total=Sum("run"))["total"])
    # Least() of a NULL finished_at is `now` in PostgreSQL (it ignores NULLs): a running job counts until now
    return {"running": jobs.filter(status=Job.Status.RUNNING).count(),
            "gpu_hours_7d": round(ran.total_seconds() / 3600, 3) if ran else 0.0,
            "bytes_stored": jobs.aggregate(total=Sum("bytes_stored"))["total"] or 0}
