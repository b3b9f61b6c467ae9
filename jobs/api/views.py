import functools

from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from django.conf import settings
from django.utils import timezone

from ..access import artifacts_for, jobs_for
from ..deletion import JobInUse, delete_job
from ..events import record, record_new
from ..models import Artifact, Job, JobEvent
from ..registry import get_kind
from ..tasks import enqueue
from ..workers import online
from .query import int_param
from .serializers import (JOB_COLUMNS, ArtifactSerializer, EventSerializer, JobCreateSerializer, JobKindSerializer,
                          JobSerializer, job_answer)

MAX_EVENTS_PER_PAGE = 5000


def create_job(user, kind_name, params, name, input_artifacts, send=True) -> Job:
    kind = get_kind(kind_name)
    with transaction.atomic():
        active, stored = _lock_and_count(user.pk)
        if active >= settings.LAB_MAX_ACTIVE_JOBS:
            raise TooManyJobs(active)
        if stored >= settings.LAB_MAX_ARTIFACT_BYTES:
            raise StorageFull(stored)
        _lock_inputs(input_artifacts)
        # the row is new and unseen outside this transaction: its first seq needs no lock
        job = Job.objects.create(owner=user, kind=kind.name, params=params, name=name,
                                 queue=kind.queue_for(kind.params.model_validate(params)),
                                 max_attempts=settings.LAB_MAX_ATTEMPTS, last_seq=1)
        if input_artifacts:
            links = Job.input_artifacts.through
            links.objects.bulk_create([links(job_id=job.pk, artifact_id=a.pk) for a in input_artifacts])
        record_new(job, ("status", {"status": "queued"}))
        if send:
            enqueue(job)
    # the answer needs no lineage queries: the inputs are these, and nothing used the outputs yet
    job.input_ids, job.used_by_ids = [a.pk for a in input_artifacts], []
    return job


def _lock_inputs(input_artifacts) -> None:
    """Hold the jobs whose outputs the new job reads until it is stored: a job being deleted holds its
    row FOR UPDATE, so either the delete sees this job using its model (409) or this finds it gone.
    KEY SHARE: it does not wait for, nor block, plain updates of those rows."""
    wanted = sorted({a.job_id for a in input_artifacts})
    if not wanted:
        return
    with connection.cursor() as cur:
        cur.execute(f"SELECT id FROM {Job._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [wanted])
        found = {row[0] for row in cur.fetchall()}
    gone = [a for a in input_artifacts if a.job_id not in found]
    if gone:
        raise ValidationError({"params": [f"artifact {a.pk} was deleted with job {a.job_id}" for a in gone]})


def _lock_and_count(user_id: int) -> tuple[int, int]:
    """Lock the user's row, so two concurrent submits cannot both slip under the caps, then count
    their queued + running jobs and the bytes their jobs store: `bytes_stored` of each job (its whole
    folder, checkpoints included, measured when it ended) plus the artifacts queued and running jobs
    have written so far.

    The count is its own statement: one that also took the lock would read a snapshot from before
    the wait, missing the job the other submit just committed. Plain SQL: the ORM spends ~3 ms
    building this one, the database 0.2 ms running it."""
    users, jobs, artifacts = (m._meta.db_table for m in (get_user_model(), Job, Artifact))
    with connection.cursor() as cur:
        cur.execute(f"SELECT 1 FROM {users} WHERE id = %s FOR UPDATE", [user_id])
        cur.execute(f"SELECT (SELECT count(*) FROM {jobs} WHERE owner_id = %(user)s AND status = ANY(%(active)s)),"
                    f" (SELECT coalesce(sum(bytes_stored), 0) FROM {jobs} WHERE owner_id = %(user)s)"
                    f" + (SELECT coalesce(sum(a.size), 0) FROM {artifacts} a JOIN {jobs} j ON a.job_id = j.id"
                    f"  WHERE j.owner_id = %(user)s AND j.status = ANY(%(active)s))",
                    {"user": user_id, "active": list(Job.ACTIVE)})
        active, stored = cur.fetchone()
    return int(active), int(stored)


class TooManyJobs(Exception):
    pass


class StorageFull(Exception):
    pass


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
        return qs

    def get_serializer_class(self):
        return JobCreateSerializer if self.action == "create" else JobSerializer

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=list(Job.Status.values)), OpenApiParameter("kind", str)])
    def list(self, request, *args, **kwargs):
        rows = self.get_queryset().values(*JOB_COLUMNS, "input_ids", "used_by_ids")
        page = self.paginate_queryset(rows)
        context = self.get_serializer_context()
        return self.get_paginated_response([job_answer(row, context) for row in page])

    @extend_schema(request=JobCreateSerializer, responses={201: JobSerializer})
    def create(self, request, *args, **kwargs):
        ser = JobCreateSerializer(data=request.data, context={"request": request})
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        return self._submit(d["kind"], d["params"], d.get("name", ""), d["input_artifacts"])

    def _submit(self, kind, params, name, input_artifacts) -> Response:
        """Create the job (create and retry alike): 201, or the limit it is over."""
        try:
            job = create_job(self.request.user, kind, params, name, input_artifacts)
        except TooManyJobs as exc:
            return Response({"detail": f"you have {exc.args[0]} queued or running jobs, the limit is "
                                       f"{settings.LAB_MAX_ACTIVE_JOBS}; wait for some to finish or cancel them"},
                            status=status.HTTP_429_TOO_MANY_REQUESTS)
        except StorageFull as exc:
            return Response({"detail": f"your jobs store {exc.args[0]} bytes (artifacts and checkpoints), the limit "
                                       f"is {settings.LAB_MAX_ARTIFACT_BYTES}: delete jobs you no longer need (the "
                                       f"Delete button on a finished job's page, or DELETE /api/jobs/<id>/) to free "
                                       f"space"},
                            status=status.HTTP_507_INSUFFICIENT_STORAGE)
        return Response(JobSerializer(job, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: inline_serializer("JobInUse", fields={"detail": serializers.CharField()})})
    def destroy(self, request, pk=None):
        """The job, its events, artifacts and files are gone; 409 while it or a job using its model is live."""
        job = self.get_object()
        try:
            if not delete_job(job.pk):
                raise Http404("no such job")
        except JobInUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: JobSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        job = self.get_object()
        with transaction.atomic():
            job = Job.objects.select_for_update().get(pk=job.pk)
            if job.is_finished:
                return Response({"detail": f"job already {job.status}"}, status=status.HTTP_409_CONFLICT)
            if job.status == Job.Status.QUEUED:
                # never started: it ends now; a message still in the broker finds it finished and does nothing
                record(job, [("status", {"status": "cancelled"})],
                       {"status": Job.Status.CANCELLED, "cancel_requested": True, "finished_at": timezone.now()})
            else:
                record(job, [("log", {"text": f"cancel requested by {request.user.username}"})],
                       {"cancel_requested": True})
        job.refresh_from_db()
        return Response(JobSerializer(job, context=self.get_serializer_context()).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={201: JobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        old = self.get_object()
        ser = JobCreateSerializer(data={"kind": old.kind, "params": old.params, "name": old.name},
                                  context={"request": request})
        ser.is_valid(raise_exception=True)
        d = ser.validated_data
        return self._submit(d["kind"], d["params"], d["name"], d["input_artifacts"])

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
class ArtifactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ArtifactSerializer

    def get_queryset(self):
        qs = artifacts_for(self.request.user).select_related("job").order_by("-created_at", "-id")
        kind = self.request.query_params.get("kind")
        if kind:
            qs = qs.filter(kind=kind)
        return qs

    @extend_schema(parameters=[OpenApiParameter("kind", str)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        art = self.get_object()
        try:
            f = art.file.open("rb")
        except FileNotFoundError:
            raise Http404("the artifact's file is missing")
        return FileResponse(f, as_attachment=True, filename=art.name, content_type=content_type(art.name))


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
