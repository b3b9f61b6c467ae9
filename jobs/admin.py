from django.contrib import admin

from .login import ThrottledAdminAuthenticationForm
from .models import Artifact, Job, JobEvent
from .projects import Membership, Project


class ArtifactInline(admin.TabularInline):
    model = Artifact
    extra = 0
    readonly_fields = ("name", "kind", "file", "size", "sha256", "partial", "created_at")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "owner", "project", "status", "progress", "attempts", "worker", "created_at")
    list_filter = ("status", "kind", "queue")
    search_fields = ("name", "owner__username", "project__name")
    raw_id_fields = ("project",)
    readonly_fields = ("created_at", "started_at", "finished_at", "heartbeat_at", "last_seq")
    inlines = [ArtifactInline]


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ("job", "seq", "type", "ts")
    list_filter = ("type",)
    raw_id_fields = ("job",)


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "name", "kind", "size", "partial", "created_at")
    list_filter = ("kind", "partial")
    raw_id_fields = ("job",)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "personal_of", "max_running", "created_at")
    search_fields = ("name", "memberships__user__username")
    raw_id_fields = ("personal_of",)
    inlines = [MembershipInline]


# the admin's login page (staff see every job) has the same brake on guessing as the lab's
admin.site.login_form = ThrottledAdminAuthenticationForm
