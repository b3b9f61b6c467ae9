from django.contrib import admin
from knox.models import AuthToken as KnoxAuthToken

from .audit import AuditEntry
from .login import ThrottledAdminAuthenticationForm
from .models import ApiToken, Artifact, Job, JobEvent
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


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only for the application (jobs/audit.py), the admin included."""
    list_display = ("ts", "username", "address", "action", "target", "detail", "project_id")
    list_filter = ("action",)
    search_fields = ("username", "target", "address")
    date_hierarchy = "ts"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# the admin's login page (staff see every job) has the same brake on guessing as the lab's
admin.site.login_form = ThrottledAdminAuthenticationForm


# knox registers its own AuthToken, whose table does not exist here: the lab's token model is
# jobs.ApiToken (KNOX_TOKEN_MODEL). Tokens are made on the Tokens page, where the key is shown
# once; admin lists them and revokes (deletes) them.
if admin.site.is_registered(KnoxAuthToken):
    admin.site.unregister(KnoxAuthToken)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "scope", "created", "expiry", "last_used")
    list_filter = ("scope",)
    search_fields = ("name", "user__username")
    fields = ("name", "user", "scope", "created", "expiry", "last_used")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
