"""A sweep and its trials. A trial is a job (jobs.Job) plus what the search knows of it."""
import uuid

from django.conf import settings
from django.db import models


class Sweep(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweeps")
    project = models.ForeignKey("jobs.Project", on_delete=models.PROTECT, related_name="sweeps")
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32)
    params = models.JSONField(default=dict)  # the base params every trial starts from
    space = models.JSONField(default=dict)  # {"data.type": {"values": [...]}, "lr": {"low", "high", "log"}}
    method = models.CharField(max_length=16)  # grid, random, tpe
    objective = models.JSONField(default=list)  # [{"key", "goal"}]: one, or two for a Pareto front
    max_trials = models.PositiveIntegerField()
    parallel = models.PositiveIntegerField(default=1)
    early_stop = models.JSONField(null=True, blank=True)  # {"metric", "rule", ...} or None
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    best = models.JSONField(null=True, blank=True)  # {"job", "value", "params"}
    # names Optuna's study: ids repeat after a database reset, and a study found under a recycled
    # id would hand a new sweep another sweep's trials
    storage_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"sweep #{self.pk} {self.name}".strip()

    @property
    def study_name(self) -> str:
        return f"sweep-{self.storage_key}"

    @property
    def is_finished(self):
        return self.status in self.FINISHED


class SweepTrial(models.Model):
    """One trial: its job, the values the sampler chose, and what Optuna was told of it."""

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="trials")
    # a trial's job may be deleted once it ended: the trial stays (Optuna counts it, and so does max_trials)
    job = models.OneToOneField("jobs.Job", null=True, on_delete=models.SET_NULL, related_name="sweep_trial")
    number = models.PositiveIntegerField()  # Optuna's trial number in the study
    optuna_trial_id = models.BigIntegerField()
    params = models.JSONField(default=dict)  # the swept values, by dotted name
    # a retry of another trial's params: made on request, not counted against max_trials
    retry_of = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    values = models.JSONField(null=True, blank=True)  # the objective values told to Optuna
    state = models.CharField(max_length=16, default="running")  # Optuna's: running, complete, pruned, fail
    pruned_at_step = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)  # why a trial has no value, for the page
    # queued when its sweep was paused: stopped before it started, its params run again on resume
    held = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sweep", "number"]
        constraints = [models.UniqueConstraint(fields=["sweep", "number"], name="unique_trial_number_per_sweep")]
