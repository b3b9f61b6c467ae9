"""The database row is the truth; websocket messages are a view of it."""
import uuid

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.db import models

from .audit import AuditEntry  # noqa: F401 (a model of this app)
from .chunked import ChunkedUpload  # noqa: F401 (a model of this app)
from .passwords import PasswordChangeRequired  # noqa: F401 (a model of this app)
from .projects import Membership, Project  # noqa: F401 (models of this app)
from .tokens import ApiToken  # noqa: F401 (models of this app)
from .sweeps.models import Sweep, SweepTrial  # noqa: F401 (models of this app)
from .usage import JobRun  # noqa: F401 (a model of this app)


class JobManager(models.Manager):
    def bulk_create(self, objs, *args, **kwargs):
        """Rows without a project go into their owner's personal one, as `Job.save` does."""
        from .projects import personal_project

        objs = list(objs)
        personal = {}
        for job in objs:
            if job.project_id is None and job.owner_id is not None:
                if job.owner_id not in personal:
                    personal[job.owner_id] = personal_project(job.owner)
                job.project = personal[job.owner_id]
        return super().bulk_create(objs, *args, **kwargs)


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Priority(models.TextChoices):
        LOW = "low"
        NORMAL = "normal"
        HIGH = "high"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)
    ACTIVE = (Status.QUEUED, Status.RUNNING)

    objects = JobManager()

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    # every job belongs to one project: `save` and `bulk_create` put one without it into its owner's
    # personal project; rows inserted in plain SQL must name it (NOT NULL)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="jobs")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    queue = models.CharField(max_length=32, default="gpu")
    worker = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # the outbox: set once the broker took the job's message; an admitted queued job without it is sent again
    sent_at = models.DateTimeField(null=True, blank=True)
    # fair sharing (jobs/scheduler.py, docs/scheduling.md): a queued job waits in the database until the
    # scheduler admits it (a worker slot on its queue is free and the policy picks it), then goes to Celery
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL,
                                db_default=Priority.NORMAL)
    admitted_at = models.DateTimeField(null=True, blank=True)
    # a multi-node training's workers, node 0 first, reserved by the admission that set admitted_at (one
    # slot on each until the job ends or is requeued; only meaningful while admitted): node 0 invites these
    reserved_workers = models.JSONField(null=True, blank=True)
    # devices it needs on each worker it runs on (POST /api/jobs/ `devices`): admission counts them
    devices = models.PositiveSmallIntegerField(default=1, db_default=1)
    # the device indices (CUDA_VISIBLE_DEVICES) its current attempt got, per worker: {"w@host": [2, 3]}
    # (jobs/devices.py); null until it starts on a worker that announces devices
    assigned_devices = models.JSONField(null=True, blank=True)
    # stored but never offered to the scheduler (create_job(send=False)): the caller runs it itself
    held = models.BooleanField(default=False, db_default=False)
    # preemption: the `high` job this running job stops for (at its next step, keeping its checkpoint);
    # kept while it waits to resume, cleared when it is claimed again
    preempted_by = models.PositiveBigIntegerField(null=True, blank=True)
    input_artifacts = models.ManyToManyField("Artifact", blank=True, related_name="used_by")
    # names the job's folder (jobs.tasks.job_dir): ids repeat after a database reset or a restored
    # backup, and a folder found under a recycled id would hand a new job another job's checkpoints
    # (database defaults too: rows inserted in plain SQL, as the load benchmarks do, get them as well)
    storage_key = models.UUIDField(default=uuid.uuid4, db_default=RandomUUID(), unique=True, editable=False)
    # every byte the job's folder holds (artifacts and checkpoints), measured when an attempt ends
    # and by the garbage collector (jobs/retention.py): the storage quota sums this column
    bytes_stored = models.PositiveBigIntegerField(default=0, db_default=0)
    # inputs whose job was deleted: [{"job", "job_name", "artifact", "name"}], so lineage outlives them
    deleted_inputs = models.JSONField(default=list, db_default=models.Value([], models.JSONField()), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # the dashboard lists a user's jobs newest first, filtered by status and kind
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["owner", "status", "-created_at"]),
            models.Index(fields=["owner", "kind", "-created_at"]),
            # and a project's jobs, for its members
            models.Index(fields=["project", "-created_at"], name="jobs_job_project_8a1f0c_idx"),
            models.Index(fields=["project", "status", "-created_at"], name="jobs_job_project_5c2e7d_idx"),
            models.Index(fields=["status", "heartbeat_at"]),
            # the scheduler reads the first waiting jobs of each (queue, user, project, priority), in
            # submission order, on every pass with a free slot (jobs/scheduler.py)
            models.Index(fields=["queue", "owner", "project", "priority", "created_at", "id"], name="jobs_job_waiting_idx",
                         condition=models.Q(status="queued", admitted_at__isnull=True)),
            # and the slots held by admitted jobs not claimed yet
            models.Index(fields=["queue"], name="jobs_job_admitted_idx",
                         condition=models.Q(status="queued", admitted_at__isnull=False)),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.name}".strip()

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    def save(self, *args, **kwargs):
        if self.project_id is None and self.owner_id is not None:
            from .projects import personal_project

            self.project = personal_project(self.owner)
        super().save(*args, **kwargs)


class JobEvent(models.Model):
    class Type(models.TextChoices):
        STATUS = "status"
        PROGRESS = "progress"
        METRIC = "metric"
        LOG = "log"
        ARTIFACT = "artifact"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    type = models.CharField(max_length=16, choices=Type.choices)
    data = models.JSONField(default=dict)
    ts = models.DateTimeField()

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="unique_seq_per_job")]

    def as_dict(self):
        return {"seq": self.seq, "type": self.type, "data": self.data, "ts": self.ts.isoformat()}


def artifact_upload_to(instance, filename):
    return f"jobs/{instance.job.storage_key}/{filename}"


class Artifact(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=32)
    file = models.FileField(upload_to=artifact_upload_to, max_length=500)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    partial = models.BooleanField(default=False, help_text="written by a job that did not finish")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="unique_artifact_name_per_job")]
        indexes = [models.Index(fields=["kind", "job"])]

    def __str__(self):
        return f"{self.name} ({self.kind}) of job #{self.job_id}"
