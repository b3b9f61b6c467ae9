"""REST: /api/sweeps/ (create, list, one), pause / resume / cancel, and stop / retry one trial."""
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from ..api.query import ascii_int
from . import control
from .models import Sweep


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def sweep_answer(sweep: Sweep) -> dict:
    trials = list(sweep.trials.select_related("job").order_by("number"))
    objective = sweep.objective[0] if len(sweep.objective) == 1 else sweep.objective
    return {
        "id": sweep.pk, "name": sweep.name, "kind": sweep.kind, "params": sweep.params, "space": sweep.space,
        "method": sweep.method, "objective": objective, "max_trials": sweep.max_trials,
        "parallel": sweep.parallel, "early_stop": sweep.early_stop, "seed": sweep.seed, "project": sweep.project_id,
        "owner": sweep.owner.username, "status": sweep.status, "error": sweep.error, "best": sweep.best,
        "created_at": _iso(sweep.created_at), "finished_at": _iso(sweep.finished_at),
        "trials": [t.job_id for t in trials if t.job_id is not None],
        # one row per trial, for the page's table and plots: no request per trial
        "trial_rows": [{"job": t.job_id, "number": t.number, "params": t.params,
                        "status": t.job.status if t.job else "deleted", "state": t.state, "values": t.values,
                        "note": t.note, "retry_of": t.retry_of_id, "pruned_at_step": t.pruned_at_step,
                        "started_at": _iso(t.job.started_at) if t.job else None,
                        "finished_at": _iso(t.job.finished_at) if t.job else None} for t in trials],
    }


class SweepSerializer(serializers.Serializer):
    """The sweep answer's schema (OpenAPI); the answer itself is `sweep_answer`."""
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    params = serializers.JSONField()
    space = serializers.JSONField()
    method = serializers.CharField()
    objective = serializers.JSONField()
    max_trials = serializers.IntegerField()
    parallel = serializers.IntegerField()
    early_stop = serializers.JSONField(allow_null=True)
    seed = serializers.IntegerField()
    project = serializers.IntegerField()
    owner = serializers.CharField()
    status = serializers.ChoiceField(choices=Sweep.Status.values)
    error = serializers.CharField()
    best = serializers.JSONField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    trials = serializers.ListField(child=serializers.IntegerField())
    trial_rows = serializers.ListField(child=serializers.DictField())


def SweepAnswer(many=False):  # noqa: N802 (read as the schema's name)
    return SweepSerializer(many=many)


SweepCreate = inline_serializer("SweepCreate", fields={
    "name": serializers.CharField(required=False), "kind": serializers.CharField(),
    "params": serializers.JSONField(required=False), "space": serializers.JSONField(),
    "method": serializers.ChoiceField(choices=["grid", "random", "tpe"]), "objective": serializers.JSONField(),
    "max_trials": serializers.IntegerField(required=False), "parallel": serializers.IntegerField(required=False),
    "early_stop": serializers.JSONField(required=False), "project": serializers.IntegerField(required=False),
    "seed": serializers.IntegerField(required=False)})


JOB = OpenApiParameter("job", int, OpenApiParameter.PATH, description="the trial's job id")


@extend_schema(tags=["sweeps"])
class SweepViewSet(viewsets.ViewSet):
    queryset = Sweep.objects.none()  # for the schema's path types only; every query is sweeps_for(user)
    def get_throttles(self):
        self.throttle_scope = "submit" if self.action in ("create", "retry_trial") else None
        return super().get_throttles()

    def _pk(self, value) -> int:
        pk = ascii_int(value)
        if pk is None:
            raise Http404("no such sweep")
        return pk

    def _answer(self, sweep_id, code=status.HTTP_200_OK):
        sweep = control.sweeps_for(self.request.user).select_related("owner").filter(pk=sweep_id).first()
        if sweep is None:
            raise Http404("no such sweep")
        return Response(sweep_answer(sweep), status=code)

    @extend_schema(responses=SweepAnswer(many=True))
    def list(self, request):
        rows = control.sweeps_for(request.user).select_related("owner")[:200]
        return Response([sweep_answer(s) for s in rows])

    @extend_schema(request=SweepCreate, responses={201: SweepAnswer()})
    def create(self, request):
        sweep = control.create_sweep(request.user, request.data)
        return self._answer(sweep.pk, status.HTTP_201_CREATED)

    @extend_schema(responses=SweepAnswer())
    def retrieve(self, request, pk=None):
        return self._answer(self._pk(pk))

    @extend_schema(request=None, responses=SweepAnswer())
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._answer(control.pause(request.user, self._pk(pk)).pk)

    @extend_schema(request=None, responses=SweepAnswer())
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._answer(control.resume(request.user, self._pk(pk)).pk)

    @extend_schema(request=None, responses={202: SweepAnswer()})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._answer(control.cancel(request.user, self._pk(pk)).pk, status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={202: SweepAnswer()}, parameters=[JOB])
    @action(detail=True, methods=["post"], url_path=r"trials/(?P<job>[^/.]+)/stop")
    def stop_trial(self, request, pk=None, job=None):
        control.stop_trial(request.user, self._pk(pk), self._pk(job))
        return self._answer(self._pk(pk), status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={201: SweepAnswer()}, parameters=[JOB])
    @action(detail=True, methods=["post"], url_path=r"trials/(?P<job>[^/.]+)/retry")
    def retry_trial(self, request, pk=None, job=None):
        control.retry_trial(request.user, self._pk(pk), self._pk(job))
        return self._answer(self._pk(pk), status.HTTP_201_CREATED)
