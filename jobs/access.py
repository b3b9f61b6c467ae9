"""Authorization in one place: every REST view, download, page and websocket asks here.

A user sees the jobs and artifacts of the projects they are a member of (any role); what they may do
to them follows their role there (jobs/projects.py). Staff see and do everything, as before projects.
Whatever a user may not see answers 404; what they see but their role does not allow answers 403.
"""
from __future__ import annotations

from django.db.models import Q

from .models import Artifact, Job
from .projects import Membership, Project

VIEWER, MEMBER, ADMIN = Membership.Role.VIEWER, Membership.Role.MEMBER, Membership.Role.ADMIN
RANK = {VIEWER: 0, MEMBER: 1, ADMIN: 2}


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated)


def _project_ids(user, at_least=VIEWER):
    """A subquery of the ids of the projects where the user's role is `at_least` or above."""
    roles = [r for r, rank in RANK.items() if rank >= RANK[at_least]]
    return Membership.objects.filter(user=user, role__in=roles).values("project_id")


def projects_for(user, at_least=VIEWER):
    if not _signed_in(user):
        return Project.objects.none()
    return Project.objects.filter(pk__in=_project_ids(user, at_least))


def role_in(user, project_id) -> str | None:
    """The user's role in the project, or None for a non-member (staff count as admins everywhere)."""
    if not _signed_in(user):
        return None
    role = Membership.objects.filter(user=user, project_id=project_id).values_list("role", flat=True).first()
    if role is None and user.is_staff:
        return ADMIN
    return role


def has_role(user, project_id, at_least) -> bool:
    role = role_in(user, project_id)
    return role is not None and RANK[role] >= RANK[at_least]


def jobs_for(user, at_least=VIEWER):
    if not _signed_in(user):
        return Job.objects.none()
    if user.is_staff:
        return Job.objects.all()
    return Job.objects.filter(project_id__in=_project_ids(user, at_least))


def artifacts_for(user, at_least=VIEWER):
    if not _signed_in(user):
        return Artifact.objects.none()
    if user.is_staff:
        return Artifact.objects.all()
    return Artifact.objects.filter(job__project_id__in=_project_ids(user, at_least))


def models_usable_by(user):
    """Artifacts the user may feed to a new job: any of a project where they may launch (member or
    admin). A model of project A goes into a job of project B only for a user who is a member of both:
    the job's project is checked apart (`may_launch`)."""
    return artifacts_for(user, at_least=MEMBER)


def may_launch(user, project_id) -> bool:
    return has_role(user, project_id, MEMBER)


def may_manage(user, project_id) -> bool:
    """Members and quotas."""
    return has_role(user, project_id, ADMIN)


def may_change(user, job: Job) -> bool:
    """Cancel, retry or delete `job`: its owner while still a member or admin of its project, or any
    admin of the project."""
    role = role_in(user, job.project_id)
    if role is None:
        return False
    return role == ADMIN or (role == MEMBER and job.owner_id == user.pk)


def jobs_changeable_by(user):
    """The jobs `may_change` allows, as a queryset (to lock the row in the same statement)."""
    if not _signed_in(user):
        return Job.objects.none()
    if user.is_staff:
        return Job.objects.all()
    return Job.objects.filter(Q(project_id__in=_project_ids(user, ADMIN))
                              | Q(project_id__in=_project_ids(user, MEMBER), owner=user))
