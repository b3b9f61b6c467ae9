"""Projects: what a team shares. Every job belongs to one; every user has a personal one."""
from django.conf import settings
from django.db import models


class Project(models.Model):
    name = models.CharField(max_length=100)
    # the user's own project, made on first need (a user has exactly one)
    personal_of = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                       related_name="personal_project")
    # how many of the project's jobs may run at once (None: only the per-user cap applies)
    max_running = models.PositiveIntegerField(null=True, blank=True)
    # whether a `high` job may preempt the project's `low` jobs (jobs/scheduler.py); off protects them
    preemptible = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer"   # reads jobs, events, artifacts, compare
        MEMBER = "member"   # also launches, cancels and retries their own jobs, reuses the project's models
        ADMIN = "admin"     # also manages members and quotas, cancels or deletes any job of the project

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]


def personal_project(user) -> Project:
    """The user's personal project (they are its admin), made the first time it is needed."""
    project, made = Project.objects.get_or_create(personal_of=user, defaults={"name": user.get_username()})
    if made:
        Membership.objects.get_or_create(project=project, user=user, defaults={"role": Membership.Role.ADMIN})
    return project


def personal_project_on_login(sender, user, **kwargs):
    """Every user has a personal project from their first login (token users get it on first need)."""
    personal_project(user)
