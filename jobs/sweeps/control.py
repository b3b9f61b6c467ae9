"""What a user does to sweeps: create, pause, resume, cancel, stop or retry one trial; and who may.
Each action takes the sweep's row lock, as the controller's step does (jobs/sweeps/controller.py)."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from .. import audit, services
from ..access import ADMIN, MEMBER, has_role, projects_for
from ..models import Job
from . import study as studies
from .controller import _changed, _new_trial, advance
from .models import Sweep, SweepTrial
from .spec import check


class NoSuchSweep(services.ServiceError):
    def __init__(self, sweep_id):
        super().__init__("no such sweep")
        self.sweep_id = sweep_id


class NotATrial(services.ServiceError):
    def __init__(self, sweep_id, job_id):
        super().__init__(f"job {job_id} is not a trial of sweep {sweep_id}")


class SweepFinished(services.ServiceError):
    """Pause or resume of a sweep that has ended."""


services.STATUS.update({NoSuchSweep: 404, NotATrial: 404, SweepFinished: 409})


def sweeps_for(user):
    if not (user and user.is_authenticated):
        return Sweep.objects.none()
    if user.is_staff:
        return Sweep.objects.all()
    return Sweep.objects.filter(project__in=projects_for(user))


def _changeable(user, sweep_id, lock=False) -> Sweep:
    """The sweep if the user may control it: its owner while a member of its project, or an admin of it."""
    qs = sweeps_for(user).filter(pk=sweep_id)
    sweep = (qs.select_for_update(of=("self",)) if lock else qs).first()
    if sweep is None:
        raise NoSuchSweep(sweep_id)
    if not (user.is_staff or has_role(user, sweep.project_id, ADMIN)
            or (sweep.owner_id == user.pk and has_role(user, sweep.project_id, MEMBER))):
        raise services.NotAllowed("your role in this sweep's project does not allow this: members control their "
                                  "own sweeps, admins any sweep of the project")
    return sweep


def create_sweep(user, data: dict) -> Sweep:
    project_id = data.get("project") if isinstance(data, dict) else None
    if project_id is not None and (not isinstance(project_id, int) or isinstance(project_id, bool)):
        raise services.BadInput({"project": ["a project id (a whole number)"]})
    project = services.launch_project(user, project_id)
    spec = check(user, data)
    sweep = Sweep.objects.create(owner=user, project=project, name=spec.name, kind=spec.kind, params=spec.params,
                                 space=spec.space, method=spec.method, objective=spec.objective,
                                 max_trials=spec.max_trials, parallel=spec.parallel, early_stop=spec.early_stop,
                                 seed=spec.seed)
    studies.create(sweep)
    audit.record(user, audit.Action.CREATE, f"sweep {sweep.pk}", project=project.pk,
                 detail=f"{spec.method} over {', '.join(spec.space)}")
    advance(sweep.pk)
    sweep.refresh_from_db()
    return sweep


HELD = "held: the sweep was paused before this trial started; its params run again on resume"


def pause(user, sweep_id: int) -> Sweep:
    """No trial starts while paused: running trials go on, queued ones are stopped before they start
    (held) and their params run again, as new trials, on resume."""
    from ..events import record

    with transaction.atomic():
        sweep = _changeable(user, sweep_id, lock=True)
        if sweep.status != Sweep.Status.RUNNING:
            raise SweepFinished(f"sweep is {sweep.status}")
        sweep.status = Sweep.Status.PAUSED
        sweep.save(update_fields=["status"])
        # locked, then still queued: a worker's claim waits for this row and then finds it ended
        for job in Job.objects.select_for_update().filter(sweep_trial__sweep=sweep, status=Job.Status.QUEUED):
            record(job, [("status", {"status": "cancelled", "error": HELD})],
                   {"status": Job.Status.CANCELLED, "cancel_requested": True, "error": HELD,
                    "finished_at": timezone.now()})
            SweepTrial.objects.filter(job=job).update(held=True)
        _changed(sweep)
    return sweep


def resume(user, sweep_id: int) -> Sweep:
    with transaction.atomic():
        sweep = _changeable(user, sweep_id, lock=True)
        if sweep.status != Sweep.Status.PAUSED:
            raise SweepFinished(f"sweep is {sweep.status}, not paused")
        sweep.status = Sweep.Status.RUNNING
        sweep.save(update_fields=["status"])
    return advance(sweep_id)


def cancel(user, sweep_id: int) -> Sweep:
    """The sweep ends cancelled, and so do its queued and running trials."""
    with transaction.atomic():
        sweep = _changeable(user, sweep_id, lock=True)
        if sweep.is_finished:
            raise SweepFinished(f"sweep already {sweep.status}")
        sweep.status = Sweep.Status.CANCELLED
        sweep.finished_at = timezone.now()
        sweep.save(update_fields=["status", "finished_at"])
        _changed(sweep)
        for job_id in sweep.trials.filter(job__status__in=Job.ACTIVE).values_list("job_id", flat=True):
            services.cancel_job(user, job_id)
        audit.record(user, audit.Action.CANCEL, f"sweep {sweep.pk}", project=sweep.project_id)
    return sweep


def stop_trial(user, sweep_id: int, job_id: int) -> Job:
    """One trial ends cancelled; the sweep goes on (it counts as made, and as failed for Optuna)."""
    sweep = _changeable(user, sweep_id)
    if not sweep.trials.filter(job_id=job_id).exists():
        raise NotATrial(sweep_id, job_id)
    return services.cancel_job(user, job_id)


def retry_trial(user, sweep_id: int, job_id: int) -> SweepTrial:
    """A new trial with the params of trial `job_id` (Optuna's enqueue_trial); not counted against
    max_trials. A sweep that had ended runs again until it ends."""
    with transaction.atomic():
        sweep = _changeable(user, sweep_id, lock=True)
        old = sweep.trials.filter(job_id=job_id).first()
        if old is None:
            raise NotATrial(sweep_id, job_id)
        if sweep.status == Sweep.Status.CANCELLED:
            raise SweepFinished("sweep was cancelled")
        made = sweep.trials.filter(retry_of__isnull=True).count()
        trial = _new_trial(studies.load(sweep, made), sweep, made, params=old.params, retry_of=old.job_id)
        if trial is None:
            raise services.BadInput({"trial": [sweep.error]})
        if sweep.is_finished:
            sweep.status, sweep.finished_at = Sweep.Status.RUNNING, None
        sweep.save()
    return trial


