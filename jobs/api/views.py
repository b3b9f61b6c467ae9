import functools

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import OuterRef, Subquery
from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseRedirect
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import audit, objectstore, services
from ..access import artifacts_for, jobs_for
from ..models import Job, JobEvent
from ..workers import online
from .query import ascii_int, int_param
from .uploads import ArtifactUploadMixin
from .serializers import (JOB_COLUMNS, ArtifactSerializer, EventSerializer, JobCreateSerializer, JobKindSerializer,
                          JobSerializer, job_answer)

MAX_EVENTS_PER_PAGE = 5000


@extend_schema(tags=["jobs"])
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = JobSerializer

    def get_throttles(self):
        self.throttle_scope = "submit" if self.action in ("create", "retry") else None
        return super().get_throttles()

    def get_queryset(self):
        qs = with_links(jobs_for(self.request.user).select_related("owner"), self.request.user)
        if self.action == "list":
            status_ = self.request.query_params.get("status")
            kind = self.request.query_params.get("kind")
            if status_:
                if status_ not in Job.Status.values:
                    raise ValidationError({"status": [f"one of {', '.join(Job.Status.values)}"]})
                qs = qs.filter(status=status_)
            if kind:
                qs = qs.filter(kind=kind)
            project = int_param(self.request.query_params, "project", 0)
            if project:
                qs = qs.filter(project_id=project)
        return qs

    def get_serializer_class(self):
        return JobCreateSerializer if self.action == "create" else JobSerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(Job.Status.values)), OpenApiParameter("kind", str),
                    OpenApiParameter("project", int, description="only the jobs of this project")])
    def list(self, request, *args, **kwargs):
        rows = self.get_queryset().values(*JOB_COLUMNS, "input_ids", "used_by_ids")
        page = self.paginate_queryset(rows)
        # the scheduler ranks only the queues this page's waiting jobs are on
        context = {**self.get_serializer_context(), "queues": {r["queue"] for r in page if r["status"] == "queued"}}
        return self.get_paginated_response([job_answer(row, context) for row in page])

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request, *args, **kwargs):
        ser = JobCreateSerializer(data=request.data, context={"request": request})
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        services.check_priority(request.user, d["project"], d["priority"])
        job = services.create_job(request.user, d["kind"], d["params"], d.get("name", ""), d["input_artifacts"],
                                  project=d["project"], priority=d["priority"], queue=d.get("queue"),
                                  devices=d["devices"])
        return self._answer(job, status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: inline_serializer("JobInUse", fields={"detail": serializers.CharField()})})
    def destroy(self, request, pk=None):
        """The job, its events, artifacts and files are gone; 409 while it or a job using its model is live."""
        services.delete_job(request.user, self._pk())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._answer(services.cancel_job(request.user, self._pk()), status.HTTP_202_ACCEPTED, again=True)

    @extend_schema(request=None, responses={201: JobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        return self._answer(services.retry_job(request.user, self._pk()), status.HTTP_201_CREATED)

    def _pk(self) -> int:
        pk = ascii_int(self.kwargs["pk"])
        if pk is None:
            raise Http404("no such job")
        return pk

    def _answer(self, job, code, again=False) -> Response:
        """The job as the API answers it; `again`: read it anew with its lineage (one query)."""
        if again:
            job = self.get_queryset().get(pk=job.pk)
        return Response(JobSerializer(job, context=self.get_serializer_context()).data, status=code)

    @extend_schema(
        parameters=[OpenApiParameter("after", int, description="only events with a larger seq"),
                    OpenApiParameter("limit", int, description=f"at most this many (<= {MAX_EVENTS_PER_PAGE})")],
        responses=EventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def events(self, request, pk=None):
        job = self.get_object()
        after = int_param(request.query_params, "after", 0)
        limit = int_param(request.query_params, "limit", MAX_EVENTS_PER_PAGE, lo=1, hi=MAX_EVENTS_PER_PAGE)
        rows = JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")[:limit]
        return Response([r.as_dict() for r in rows])

    @extend_schema(responses=ArtifactSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def artifacts(self, request, pk=None):
        job = self.get_object()
        return Response(ArtifactSerializer(job.artifacts.select_related("job"), many=True).data)


def with_links(qs, user):
    """Lineage ids as array columns of the same query: a page of jobs is one query, no N+1.
    Only jobs the user may see are among those that used a job's outputs (a staff user's job
    may use anyone's model)."""
    return qs.annotate(input_ids=_inputs_subquery(), used_by_ids=_used_by_subquery(user))


@functools.cache
def _inputs_subquery() -> Subquery:
    """Built once: the subquery's ORM chain costs more per request than the database spends on it
    (each `annotate` resolves a copy, so sharing it across requests is safe)."""
    links = Job.input_artifacts.through.objects
    return Subquery(links.filter(job_id=OuterRef("pk")).values("job_id").annotate(ids=ArrayAgg("artifact_id"))
                    .values("ids"))


def _used_by_subquery(user) -> Subquery:
    links = Job.input_artifacts.through.objects.filter(artifact__job_id=OuterRef("pk"), job__in=jobs_for(user))
    return Subquery(links.values("artifact__job_id").annotate(ids=ArrayAgg("job_id", distinct=True)).values("ids"))


@extend_schema(tags=["artifacts"])
class ArtifactViewSet(ArtifactUploadMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ArtifactSerializer

    def get_queryset(self):
        qs = artifacts_for(self.request.user).select_related("job").order_by("-created_at", "-id")
        kind = self.request.query_params.get("kind")
        if kind:
            qs = qs.filter(kind=kind)
        project = int_param(self.request.query_params, "project", 0) if self.action == "list" else 0
        if project:
            qs = qs.filter(job__project_id=project)
        return qs

    @extend_schema(parameters=[OpenApiParameter("kind", str),
                               OpenApiParameter("project", int, description="only the artifacts of this project")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={(200, "application/octet-stream"): bytes},
                   parameters=[OpenApiParameter("preview", int, description="1: a preview on the job page (so noted "
                                                                             "in the audit log)")])
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        art = self.get_object()  # access is ours to check, before the store is asked anything
        if objectstore.enabled() and settings.LAB_STORAGE_REDIRECT_DOWNLOADS:
            response = HttpResponseRedirect(objectstore.store().presigned_url(
                art.file.name, art.name, settings.LAB_STORAGE_URL_SECONDS))
        else:
            try:
                f, size = objectstore.store().open(art.file.name) if objectstore.enabled() else (art.file.open("rb"), None)
            except FileNotFoundError:
                raise Http404("the artifact's file is missing")
            response = FileResponse(f, as_attachment=True, filename=art.name, content_type=content_type(art.name))
            if size is not None:
                response["Content-Length"] = str(size)
        # the job page's previews read the bytes too: still a read, but not a file someone took away
        shown = " (previewed on the job page)" if request.query_params.get("preview") == "1" else ""
        audit.record(request, audit.Action.DOWNLOAD, f"artifact {art.pk}", project=art.job.project_id,
                     detail=f"{art.name} of job {art.job_id}{shown}")
        return response


CONTENT_TYPES = {".png": "image/png", ".json": "application/json", ".npy": "application/octet-stream",
                 ".safetensors": "application/octet-stream", ".fasta": "text/plain", ".txt": "text/plain",
                 ".csv": "text/csv"}


def content_type(name: str) -> str:
    import os

    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower(), "application/octet-stream")


@extend_schema(tags=["jobs"], responses=JobKindSerializer(many=True))
class JobKindList(APIView):
    def get(self, request):
        return Response(JobKindSerializer.rows())


@extend_schema(tags=["workers"], responses=inline_serializer("Worker", many=True, fields={
    "name": serializers.CharField(), "queues": serializers.ListField(child=serializers.CharField()),
    "active": serializers.ListField(child=serializers.IntegerField()), "devices": serializers.JSONField()}))
class WorkerList(APIView):
    def get(self, request):
        running = {}
        for job_id, worker in Job.objects.filter(status=Job.Status.RUNNING).values_list("id", "worker"):
            running.setdefault(worker, []).append(job_id)
        rows = []
        for w in online():
            active = running.get(w["name"], [])
            if not request.user.is_staff:
                active = list(jobs_for(request.user).filter(pk__in=active).values_list("id", flat=True))
            rows.append({"name": w["name"], "queues": w["queues"], "active": active, "devices": w["devices"]})
        return Response(rows)
