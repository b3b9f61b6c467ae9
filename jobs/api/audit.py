"""`GET /api/projects/<id>/audit/`: the project's audit log, newest first, for its admins; anyone
else gets 404, as for any project they may not manage."""
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from ..audit import AuditEntry
from ..access import may_manage
from .query import ascii_int


class AuditEntrySerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="username")

    class Meta:
        model = AuditEntry
        fields = ["ts", "user", "action", "target"]


@extend_schema(tags=["projects"], parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
class ProjectAuditList(generics.ListAPIView):
    serializer_class = AuditEntrySerializer

    def get_queryset(self):
        project_id = ascii_int(self.kwargs["id"])
        user = self.request.user
        if project_id is None or not may_manage(user, project_id):
            raise Http404("no such project")
        return AuditEntry.objects.filter(project_id=project_id).order_by("-ts", "-id")
