"""/api/projects/: the user's projects, their members and quota (names as docs/API.md "Projects")."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import membership
from ..access import RANK, projects_for
from ..projects import Membership, personal_project
from ..services import BadInput
from .query import ascii_int

ROLES = list(RANK)


def _answer(project, role) -> dict:
    return {"id": project.pk, "name": project.name, "role": role, "max_running": project.max_running,
            "preemptible": project.preemptible, "personal": project.personal_of_id is not None}


class ProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.ChoiceField(ROLES)
    max_running = serializers.IntegerField(allow_null=True)
    # whether a `high` job may preempt the project's `low` jobs (docs/scheduling.md)
    preemptible = serializers.BooleanField()
    personal = serializers.BooleanField()


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class ProjectQuotaSerializer(serializers.Serializer):
    max_running = serializers.IntegerField(allow_null=True, min_value=1, max_value=10_000, required=False)
    preemptible = serializers.BooleanField(required=False)


class MemberSetSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(ROLES)


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.ChoiceField(ROLES)


class ProjectUsageSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    gpu_hours_7d = serializers.FloatField()
    bytes_stored = serializers.IntegerField()


class ProjectDetailSerializer(ProjectSerializer):
    members = MemberSerializer(many=True)
    usage = ProjectUsageSerializer()


def _id(text):
    """A project id from the URL; anything not an id is no project (404)."""
    value = ascii_int(text)
    return value if value is not None else -1


def _body(request) -> dict:
    return request.data if isinstance(request.data, dict) else {}


class ProjectList(APIView):
    @extend_schema(tags=["projects"], responses=ProjectSerializer(many=True))
    def get(self, request):
        personal_project(request.user)
        roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
        return Response([_answer(p, roles[p.pk]) for p in projects_for(request.user)])

    @extend_schema(tags=["projects"], request=ProjectCreateSerializer, responses={201: ProjectSerializer})
    def post(self, request):
        project = membership.create_project(request.user, _body(request).get("name"))
        return Response(_answer(project, "admin"), status=status.HTTP_201_CREATED)


class ProjectDetailView(APIView):
    @extend_schema(tags=["projects"], responses=ProjectDetailSerializer)
    def get(self, request, pk):
        project, role = membership.visible_project(request.user, _id(pk))
        return Response({**_answer(project, role), "members": membership.members(project),
                         "usage": membership.usage(project)})

    @extend_schema(tags=["projects"], request=ProjectQuotaSerializer, responses=ProjectSerializer)
    def patch(self, request, pk):
        body = _body(request)
        membership.visible_project(request.user, _id(pk))  # 404 before 400 for a stranger
        if "max_running" not in body and "preemptible" not in body:
            raise BadInput({"max_running": ["this field is required (null for no project quota)"]})
        if "preemptible" in body:
            project = membership.set_preemptible(request.user, _id(pk), body["preemptible"])
        if "max_running" in body:
            project = membership.set_max_running(request.user, _id(pk), body["max_running"])
        return Response(_answer(project, membership.visible_project(request.user, project.pk)[1]))


class MemberList(APIView):
    @extend_schema(tags=["projects"], request=MemberSetSerializer, responses={200: MemberSerializer, 201: MemberSerializer})
    def post(self, request, pk):
        body = _body(request)
        membership.visible_project(request.user, _id(pk))
        name = body.get("username")
        existed = isinstance(name, str) and "\x00" not in name and Membership.objects.filter(
            project_id=_id(pk), user__username=name).exists()
        m = membership.set_member(request.user, _id(pk), body.get("username"), body.get("role"))
        return Response({"username": m.user.get_username(), "role": m.role},
                        status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class MemberDetail(APIView):
    @extend_schema(tags=["projects"], request=None, responses={204: None})
    def delete(self, request, pk, username):
        membership.remove_member(request.user, _id(pk), username)
        return Response(status=status.HTTP_204_NO_CONTENT)
