from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from .. import gpu_split, scheduler
from ..access import jobs_for
from ..models import Artifact, Job, JobEvent
from ..registry import KINDS, available_kinds, get_kind
from ..services import BadInput, launch_project, submission
from ..workers import live_queues, waiting_reason


# what a job answer is made of: the list reads exactly these columns (no model instances)
JOB_COLUMNS = ("id", "name", "kind", "params", "status", "progress", "result", "error", "created_at", "started_at",
               "finished_at", "owner__username", "project_id", "attempts", "max_attempts", "queue", "worker", "bytes_stored",
               "deleted_inputs", "priority", "admitted_at", "held", "devices", "reserved_workers",
               "assigned_devices")


def _iso(value):
    """DRF's DateTimeField output: ISO 8601 in the current time zone, UTC written 'Z'."""
    if value is None:
        return None
    text = value.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def job_answer(row: dict, context: dict) -> dict:
    """One job as the API answers it, from a row of JOB_COLUMNS plus the lineage ids.

    Built by hand rather than field by field: a page of 50 jobs through DRF's generic fields
    costs more than its queries (bench_platform's list ratio)."""
    waiting = position = None
    waiting_admission = row["status"] == Job.Status.QUEUED and row["admitted_at"] is None
    if row["status"] == Job.Status.QUEUED:
        # one Redis read per request, and only when some job is waiting
        if "live_queues" not in context:
            context["live_queues"] = live_queues()
        waiting = waiting_reason(row["queue"], context["live_queues"])
        if row["admitted_at"] is None and not row["held"]:
            # the scheduler's view, read once per request: where each waiting job stands, and why
            if "positions" not in context:
                context["positions"] = scheduler.positions(context.get("queues"))
            position, why = context["positions"].of(row["id"], row["queue"])
            waiting = why or waiting
    return {
        "id": row["id"], "name": row["name"], "kind": row["kind"], "params": row["params"], "status": row["status"],
        "progress": float(row["progress"]), "result": row["result"], "error": row["error"],
        "created_at": _iso(row["created_at"]), "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]), "owner": row["owner__username"],
        "project": row["project_id"], "attempts": row["attempts"],
        "max_attempts": row["max_attempts"], "queue": row["queue"], "worker": row["worker"],
        "priority": row["priority"], "queue_position": position,
        "waiting_reason": waiting, "input_artifacts": sorted(row["input_ids"] or []),
        "outputs_used_by": sorted(row["used_by_ids"] or []), "bytes_stored": row["bytes_stored"],
        "deleted_inputs": row["deleted_inputs"] or [],
        "devices": row["devices"],
        # a multi-node training's workers (node 0 first) or a GPU job's worker, as its last admission
        # reserved them; a job waiting for admission again (requeued) has none yet, whatever the row still holds
        "reserved_workers": None if waiting_admission else row["reserved_workers"],
        "assigned_devices": row["assigned_devices"],
    }


class JobSerializer(serializers.ModelSerializer):
    """The job answer's schema (OpenAPI) and its rendering from a model instance."""
    owner = serializers.CharField(source="owner.username", read_only=True)
    project = serializers.IntegerField(source="project_id", read_only=True)
    waiting_reason = serializers.CharField(allow_null=True, read_only=True)
    # 1 for the next job to start on its queue; null once admitted
    queue_position = serializers.IntegerField(allow_null=True, read_only=True)
    input_artifacts = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    outputs_used_by = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    # inputs whose job was deleted since: {"job", "job_name", "job_kind", "artifact", "name"} each
    deleted_inputs = serializers.ListField(child=serializers.DictField(), read_only=True)
    # the devices asked for on each worker it runs on (POST `devices`)
    devices = serializers.IntegerField(read_only=True)
    # a multi-node training's reserved workers (node 0 first) or a GPU job's worker, once admitted;
    # null for others and while waiting
    reserved_workers = serializers.ListField(child=serializers.CharField(), allow_null=True, read_only=True)
    # the device indices (CUDA_VISIBLE_DEVICES) its attempt got on each worker: {"w@host": [2, 3]}; null
    # before it starts and on workers without devices
    assigned_devices = serializers.DictField(child=serializers.ListField(child=serializers.JSONField()),
                                             allow_null=True, read_only=True)

    class Meta:
        model = Job
        fields = ["id", "name", "kind", "params", "status", "progress", "result", "error", "created_at",
                  "started_at", "finished_at", "owner", "project", "attempts", "max_attempts", "queue", "worker",
                  "priority", "queue_position", "waiting_reason", "input_artifacts", "outputs_used_by", "bytes_stored",
                  "deleted_inputs", "devices", "reserved_workers", "assigned_devices"]
        read_only_fields = fields

    def to_representation(self, job):
        row = {c: getattr(job, c) for c in JOB_COLUMNS if c != "owner__username"}
        if row["status"] == Job.Status.QUEUED:  # the scheduler may have admitted it since it was read
            row["admitted_at"], row["held"] = Job.objects.values_list("admitted_at", "held").get(pk=job.pk)
        row["owner__username"] = job.owner.username
        row["input_ids"] = (job.input_ids if hasattr(job, "input_ids")
                            else list(job.input_artifacts.values_list("id", flat=True)))
        row["used_by_ids"] = (job.used_by_ids if hasattr(job, "used_by_ids") else
                              list(jobs_for(self.context["request"].user).filter(input_artifacts__job=job)
                                   .values_list("id", flat=True).distinct()))
        return job_answer(row, self.context)


class JobCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=sorted(KINDS))
    params = serializers.JSONField(required=False, default=dict)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    # a project where the user is member or admin; default their personal one
    project = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1,
                                       max_value=2**63 - 1)
    # `high` needs a project admin (jobs.services.check_priority answers 403 otherwise)
    priority = serializers.ChoiceField(choices=Job.Priority.values, required=False, default=Job.Priority.NORMAL)
    # a named pool of workers (`celery worker -Q a100`); default the kind's queue (gpu, or cpu for device "cpu")
    queue = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,31}$", required=False, allow_null=True, default=None,
                                   error_messages={"invalid": "a queue name: lowercase letters, digits, - and _, "
                                                              "at most 32 characters (gpu, cpu, a100...)"})
    # devices on each worker it runs on (each node of a multi-node training); admission counts them
    devices = serializers.IntegerField(required=False, default=1, min_value=1, max_value=1024)

    def validate(self, attrs):
        user = self.context["request"].user
        _one_process_per_gpu(attrs, devices_given="devices" in self.initial_data)
        try:
            project = launch_project(user, attrs.get("project"))
            s = submission(user, attrs["kind"], attrs.get("params"), attrs.get("name", ""))
        except BadInput as exc:
            raise serializers.ValidationError(exc.errors)
        if attrs.get("queue") == "cpu" and s.params.get("device") == "cuda":
            raise serializers.ValidationError({"queue": ["a job with device \"cuda\" cannot run on the cpu queue"]})
        attrs.update(params=s.params, input_artifacts=s.input_artifacts, project=project)
        _check_devices(attrs)
        return attrs


def _one_process_per_gpu(attrs, devices_given: bool) -> None:
    """A GPU training without `devices` (and `nodes`): its devices and nodes from world_size and the
    queue's live GPU workers (jobs/gpu_split.py), before admission prices it per node."""
    raw = attrs.get("params")
    if devices_given or attrs["kind"] != "train" or not isinstance(raw, dict):
        return
    kind = get_kind("train")
    try:
        parsed = kind.params.model_validate(raw)
    except Exception:  # noqa: BLE001 (the submission below names the bad fields)
        return
    queue = attrs.get("queue") or kind.queue_for(parsed)
    if parsed.device == "cpu" or queue == "cpu":
        return
    most = max((w.devices for w in scheduler.live_workers(cached=True) if queue in w.queues), default=0)
    chosen = gpu_split.split(getattr(parsed, "world_size", 1), raw["nodes"] if "nodes" in raw else None, most)
    if chosen is not None:
        attrs["devices"] = chosen.devices
        attrs["params"] = {**raw, "nodes": chosen.nodes}


def _check_devices(attrs) -> None:
    """More devices than any live worker of the job's queue has: it would never start (no live worker
    at all: it waits for one, as any job does)."""
    if attrs["devices"] == 1:
        return
    kind = get_kind(attrs["kind"])
    queue = attrs.get("queue") or kind.queue_for(kind.params.model_validate(attrs["params"]))
    most = max((w.capacity for w in scheduler.live_workers(cached=True) if queue in w.queues), default=None)
    if most is not None and attrs["devices"] > most:
        raise serializers.ValidationError({"devices": [
            f"needs {attrs['devices']} devices on one worker; the live workers of queue {queue} have at most {most}"]})


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["seq", "type", "data", "ts"]


class ArtifactSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    job = serializers.IntegerField(source="job_id", read_only=True)
    job_name = serializers.CharField(source="job.name", read_only=True)
    job_kind = serializers.CharField(source="job.kind", read_only=True)

    class Meta:
        model = Artifact
        fields = ["id", "name", "kind", "size", "sha256", "url", "partial", "job", "job_name", "job_kind",
                  "created_at"]

    def get_url(self, art) -> str:
        return reverse("artifact-download", args=[art.pk])


class JobKindSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    params_schema = serializers.JSONField()
    queue = serializers.CharField()

    @staticmethod
    def rows():
        return [{"name": k.name, "title": k.title, "description": k.description,
                 "params_schema": k.params_schema(), "queue": k.queue} for k in available_kinds()]
