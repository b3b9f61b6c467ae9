"""Early stopping of one trial, in the worker that runs it: each point of the sweep's metric is
reported to the trial's Optuna trial (`trial.report`), and Optuna's pruner decides (`should_prune`).
The reporter's flusher thread calls `observe` after it stored the points, so the job's own
thread never waits on it."""
from __future__ import annotations

import logging

from . import study as studies
from .models import SweepTrial

log = logging.getLogger(__name__)


class TrialPruner:
    def __init__(self, trial: SweepTrial):
        self.metric = trial.sweep.early_stop["metric"]
        self.rule = trial.sweep.early_stop.get("rule", "median")
        self._row_id = trial.pk
        self._sweep = trial.sweep
        self._trial_id = trial.optuna_trial_id
        self._trial = None

    def observe(self, step: int, value: float) -> str | None:
        """The reason to stop ("pruned at step k (median rule)"), or None to go on."""
        return self.observe_all([(step, value)])

    def observe_all(self, points: list[tuple[int, float]]) -> str | None:
        """Report every point (the other trials' medians need each step), then ask the pruner once, at
        the last: `should_prune` reads the study's trials, a report is one write."""
        import optuna

        if not points:
            return None
        if self._trial is None:
            self._trial = optuna.trial.Trial(studies.load(self._sweep), self._trial_id)
        for step, value in points:
            self._trial.report(value, step)
        if not self._trial.should_prune():
            return None
        step = points[-1][0]
        SweepTrial.objects.filter(pk=self._row_id).update(pruned_at_step=step)
        return f"pruned at step {step} ({studies.RULE_NAMES[self.rule]})"


def pruner_for(job_id: int) -> TrialPruner | None:
    """The job's pruner if it is a trial of a sweep with early stopping, else None."""
    trial = SweepTrial.objects.select_related("sweep").filter(job_id=job_id, sweep__early_stop__isnull=False).first()
    return TrialPruner(trial) if trial is not None else None
