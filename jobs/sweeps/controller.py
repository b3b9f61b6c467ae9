"""The sweep controller: it runs on its trials' events, never on a timer.

`advance(sweep_id)` is the one step: under the sweep's row lock it tells Optuna how each newly ended
trial did (its objective from the job's result; pruned; failed), makes new trials while fewer than
`parallel` are queued or running and fewer than `max_trials` were made, and ends the sweep
`succeeded` with its best trial once the last one ended. A job of a sweep reaching a final status
calls it (jobs.events.record -> `trial_ended`), in whichever process wrote that status; so do
create, resume, cancel and retry (jobs/sweeps/control.py). A failed trial is told to Optuna as failed; the sweep goes on.
"""
from __future__ import annotations

import logging
import math

from django.db import transaction
from django.db.models import Count, FloatField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from .. import services
from ..admission import NotAdmitted
from ..models import Job
from . import study as studies
from .models import Sweep, SweepTrial
from .spec import trial_params

log = logging.getLogger(__name__)


def sweep_group(sweep_id: int) -> str:
    return f"sweep-{sweep_id}"


def _changed(sweep: Sweep) -> None:
    """Tell the sweep's listeners (its page, a test waiting on it) once the change is committed."""
    from ..events import _broadcaster

    event = {"type": "sweep", "sweep": sweep.pk, "status": sweep.status}
    transaction.on_commit(lambda: _broadcaster.send([(sweep_group(sweep.pk), event)]))


def trial_ended(job_id: int) -> None:
    """A job reached a final status: advance its sweep, if it is a trial. Called once the status is
    committed; a failure here is logged, and the next trial event (or a resume) catches up."""
    try:
        sweep_id = SweepTrial.objects.filter(job_id=job_id).values_list("sweep_id", flat=True).first()
        if sweep_id is not None:
            advance(sweep_id)
    except Exception:
        log.exception("job %s: its sweep could not be advanced", job_id)


def advance(sweep_id: int) -> Sweep | None:
    with transaction.atomic():
        sweep = Sweep.objects.select_for_update().filter(pk=sweep_id).first()
        if sweep is None:
            return None
        # counts in SQL, rows only for the trials to tell: a step's cost must not grow with the trials made
        ended = list(sweep.trials.filter(state="running", job__status__in=Job.FINISHED).select_related("job")
                     .order_by("number"))
        counts = sweep.trials.aggregate(made=Count("id", filter=Q(retry_of__isnull=True)),
                                        active=Count("id", filter=Q(job__status__in=Job.ACTIVE)))
        made, active = counts["made"], counts["active"]
        running = sweep.status == Sweep.Status.RUNNING
        held = list(sweep.trials.filter(held=True).order_by("number")) if running else []
        wants_more = running and active < sweep.parallel and (made < sweep.max_trials or held)
        if not ended and not wants_more and not (running and active == 0):
            return sweep
        study = studies.load(sweep, made)
        for t in ended:
            _tell(study, sweep, t)
        if ended:
            _update_best(study, sweep)
        waiting = False

        def room() -> bool:
            """Whether the owner may have one more job now. Over a cap (active jobs, storage) the sweep
            waits, saying why: the next trial end, or the reaper's pass, tries again."""
            nonlocal waiting
            refusal = services.over_caps(sweep.owner_id)
            if refusal is not None:
                waiting, sweep.error = True, f"waiting for room for its next trial: {refusal}"
            return refusal is None

        # the trials a pause held back run first, with the params they had (they count as made already)
        for t in held:
            if active >= sweep.parallel or sweep.status != Sweep.Status.RUNNING or not room():
                break
            if _new_trial(study, sweep, made, params=t.params, retry_of=t.job_id) is None:
                break
            SweepTrial.objects.filter(pk=t.pk).update(held=False)
            active += 1
        while sweep.status == Sweep.Status.RUNNING and active < sweep.parallel and made < sweep.max_trials:
            if not room() or _new_trial(study, sweep, made) is None:
                break
            made += 1
            active += 1
        if not waiting and sweep.error.startswith("waiting for room"):
            sweep.error = ""
        if sweep.status == Sweep.Status.RUNNING and active == 0 and not waiting:
            _end(sweep, Sweep.Status.SUCCEEDED if made >= sweep.max_trials else Sweep.Status.FAILED)
        sweep.save()
        _changed(sweep)
    return sweep


def _dig(result, dotted: str):
    node = result
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _tell(study, sweep: Sweep, t: SweepTrial) -> None:
    from optuna.trial import TrialState

    job = t.job
    values, state = None, TrialState.FAIL
    if job.status == Job.Status.SUCCEEDED:
        found = [_dig(job.result, o["key"]) for o in sweep.objective]
        bad = [o["key"] for o, v in zip(sweep.objective, found)
               if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)]
        if bad:
            t.note = f"its result has no number '{bad[0]}'"
        else:
            values, state = [float(v) for v in found], TrialState.COMPLETE
    elif job.status == Job.Status.CANCELLED and t.pruned_at_step is not None:
        state = TrialState.PRUNED
        t.note = job.error
    else:
        t.note = job.error or ("cancelled" if job.status == Job.Status.CANCELLED else "failed")
    study.tell(t.number, values, state=state, skip_if_finished=True)
    t.values, t.state = values, state.name.lower()
    t.save(update_fields=["values", "state", "note"])


def _update_best(study, sweep: Sweep) -> None:
    """`best` from the trials' values as stored beside Optuna's (one query; Optuna's `best_trial`
    reads every trial of the study). Two objectives: Optuna's Pareto front (`best_trials`)."""
    complete = sweep.trials.filter(state="complete")
    if len(sweep.objective) == 1:
        value = Cast(KeyTextTransform("0", "values"), FloatField())
        order = value.asc() if sweep.objective[0]["goal"] == "min" else value.desc()
        # ties go to the earlier trial, as Optuna's best_trial does
        best = complete.order_by(order, "number").values("job_id", "values", "params").first()
        if best is not None:
            sweep.best = {"job": best["job_id"], "value": best["values"][0], "params": best["params"]}
        return
    done = list(complete.values("job_id", "number", "values", "params"))
    by_number = {t["number"]: t for t in done}
    front = [by_number[ft.number] for ft in study.best_trials if ft.number in by_number]
    if not front:
        return
    # on the Pareto front, the best by the first objective is `best`; `pareto` is the whole front
    sign = 1 if sweep.objective[0]["goal"] == "min" else -1
    best = min(front, key=lambda t: (sign * t["values"][0], t["number"]))
    sweep.best = {"job": best["job_id"], "value": best["values"], "params": best["params"],
                  "pareto": sorted(t["job_id"] for t in front)}


def _new_trial(study, sweep: Sweep, made: int, params: dict | None = None, retry_of: int | None = None):
    """Ask Optuna for a trial (or, with `params`, enqueue those first) and submit its job as any job
    is submitted. None if the job could not be made: the trial is told failed, the sweep notes why."""
    from optuna.trial import TrialState

    study.sampler = studies.sampler(sweep, made)
    if params is not None:
        study.enqueue_trial(params)
    trial = study.ask(studies.distributions(sweep.space))
    values = {n: trial.params[n] for n in sweep.space}
    name = f"{sweep.name or f'sweep {sweep.pk}'} #{trial.number}"
    try:
        s = services.submission(sweep.owner, sweep.kind, trial_params(sweep.params, values), name[:200])
        job = services.submit(sweep.owner, s, project=sweep.project)
    except (services.ServiceError, NotAdmitted) as exc:
        study.tell(trial.number, state=TrialState.FAIL)
        sweep.error = f"trial {trial.number} could not be made: {exc}"
        log.warning("sweep %s: %s", sweep.pk, sweep.error)
        return None
    return SweepTrial.objects.create(sweep=sweep, job=job, number=trial.number, optuna_trial_id=trial._trial_id,
                                     params=values, retry_of_id=retry_of)


def _end(sweep: Sweep, status: str) -> None:
    sweep.status = status
    sweep.finished_at = timezone.now()
    if status == Sweep.Status.SUCCEEDED and sweep.best is None:
        sweep.status = Sweep.Status.FAILED
        sweep.error = sweep.error or "no trial gave a value of the objective"


def advance_stalled(grace_seconds: float = 5.0) -> list[int]:
    """Advance the sweeps whose last step was lost (a process died between a trial's final status
    and its `advance`): a trial that ended more than `grace_seconds` ago and Optuna was not told, or
    a running sweep with nothing queued or running. The reaper calls this each pass (jobs/reaper.py)."""
    from ..reaper import seconds_ago

    ids = set(SweepTrial.objects.filter(state="running", job__status__in=Job.FINISHED,
                                        job__finished_at__lt=seconds_ago(grace_seconds))
              .values_list("sweep_id", flat=True))
    idle = Sweep.objects.filter(status=Sweep.Status.RUNNING, created_at__lt=seconds_ago(grace_seconds)).exclude(
        trials__job__status__in=Job.ACTIVE)
    ids |= set(idle.values_list("id", flat=True))
    for sweep_id in sorted(ids):
        log.warning("sweep %s: advanced by the reaper (its last step was lost)", sweep_id)
        advance(sweep_id)
    return sorted(ids)
