"""Sweeps run by a real worker: each trial an ordinary job, the controller driven by their ends."""
import re

import pytest

from jobs.models import Job, JobEvent
from jobs.sweeps.models import Sweep, SweepTrial
from tests.helpers import wait_for_status, wait_for_sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

GMM = {"type": "gmm", "means": [[-2.0, 0.0], [2.0, 0.0]], "stds": [0.5, 0.5], "weights": [0.5, 0.5]}
# a tiny rectified flow on moons: a few seconds a trial, its loss reported every 5 steps
TRAIN = {"data": {"type": "moons"}, "steps": 60, "batch_size": 64, "width": 32, "depth": 1, "log_every": 5,
         "eval_every": 1000, "checkpoint_every": 1000, "eval_samples": 64, "ref_nfe": 10}


def ended(sweep):
    return sweep.is_finished


def create(api, body) -> int:
    r = api.post("/api/sweeps/", body, format="json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def test_a_grid_over_samplers_and_nfe_reports_the_lowest_exact_error_as_best(celery_worker, api):
    sweep_id = create(api, {
        "name": "solvers", "kind": "sample", "method": "grid", "parallel": 2,
        "params": {"model": GMM, "schedule": "vp_linear", "n_samples": 128, "exact_subset": 64},
        "space": {"sampler": {"values": ["ddim", "dpm_solver_pp_2m", "deis_3"]}, "nfe": {"values": [5, 10]}},
        "objective": {"key": "exact_rmse", "goal": "min"}})
    sweep = wait_for_sweep(sweep_id, ended, timeout=180)
    assert sweep.status == "succeeded", sweep.error
    trials = list(SweepTrial.objects.filter(sweep=sweep).select_related("job"))
    # the whole product, each point once, each trial an ordinary job that succeeded
    assert sorted((t.params["sampler"], t.params["nfe"]) for t in trials) == sorted(
        (s, n) for s in ("ddim", "dpm_solver_pp_2m", "deis_3") for n in (5, 10))
    assert {t.job.status for t in trials} == {"succeeded"} and {t.state for t in trials} == {"complete"}
    errors = {t.job_id: t.job.result["exact_rmse"] for t in trials}
    best_job = min(errors, key=errors.get)
    assert sweep.best["job"] == best_job and sweep.best["value"] == errors[best_job]
    assert sweep.best["params"] == SweepTrial.objects.get(job_id=best_job).params
    # every solver here converges with NFE (first order or better): the best is one at 10
    assert sweep.best["params"]["nfe"] == 10
    body = api.get(f"/api/sweeps/{sweep_id}/").json()
    assert body["status"] == "succeeded" and sorted(body["trials"]) == sorted(errors)
    assert body["best"] == {"job": best_job, "value": errors[best_job], "params": sweep.best["params"]}


def _most_at_once(jobs) -> int:
    """The most trials queued or running at one moment (from each job's creation to its end)."""
    edges = sorted([(j.created_at, 1) for j in jobs] + [(j.finished_at, -1) for j in jobs], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, d in edges:
        now += d
        most = max(most, now)
    return most


def test_a_tpe_sweep_over_lr_runs_max_trials_at_most_parallel_at_once(celery_worker, api):
    sweep_id = create(api, {
        "kind": "train", "method": "tpe", "max_trials": 5, "parallel": 2, "seed": 1,
        "params": {**TRAIN, "steps": 20}, "space": {"lr": {"low": 1e-4, "high": 3e-2, "log": True}},
        "objective": {"key": "final_loss", "goal": "min"}})
    sweep = wait_for_sweep(sweep_id, ended, timeout=240)
    assert sweep.status == "succeeded", sweep.error
    trials = list(SweepTrial.objects.filter(sweep=sweep).select_related("job"))
    jobs = [t.job for t in trials]
    assert len(trials) == 5 and {j.status for j in jobs} == {"succeeded"}
    assert all(1e-4 <= j.params["lr"] <= 3e-2 for j in jobs) and len({j.params["lr"] for j in jobs}) == 5
    # the controller kept two in flight (one worker runs one at a time), never three
    assert _most_at_once(jobs) == 2
    losses = {j.pk: j.result["final_loss"] for j in jobs}
    assert sweep.best["job"] == min(losses, key=losses.get) and sweep.best["value"] == min(losses.values())


def _loss_curve(job_id) -> dict[int, float]:
    rows = JobEvent.objects.filter(job_id=job_id, type="metric", data__name="loss").order_by("seq")
    return {r.data["step"]: r.data["value"] for r in rows}


def test_the_median_rule_prunes_the_trial_whose_loss_lags(celery_worker, api):
    import numpy as np

    # with seed 3 Optuna's GridSampler takes lr 0.02, 0.01, then 1e-7 (its shuffle of the grid): two
    # trials that learn complete first (startup_trials), then one that barely moves is compared with them
    # 200 steps: the pruner answers within a flush or two (~0.1 s), long before such a trial would end
    params = {**TRAIN, "steps": 200, "log_every": 10}
    sweep_id = create(api, {
        "kind": "train", "method": "grid", "seed": 3, "params": params,
        "space": {"lr": {"values": [0.01, 0.02, 1e-7]}}, "objective": {"key": "final_loss", "goal": "min"},
        "early_stop": {"metric": "loss", "rule": "median", "startup_trials": 2}})
    sweep = wait_for_sweep(sweep_id, ended, timeout=240)
    assert sweep.status == "succeeded", sweep.error
    trials = list(SweepTrial.objects.filter(sweep=sweep).select_related("job").order_by("number"))
    assert [t.params["lr"] for t in trials] == [0.02, 0.01, 1e-7]
    good, lagging = trials[:2], trials[2]
    assert [t.job.status for t in good] == ["succeeded", "succeeded"] and [t.state for t in good] == ["complete"] * 2
    assert lagging.job.status == "cancelled" and lagging.state == "pruned"
    m = re.fullmatch(r"pruned at step (\d+) \(median rule\)", lagging.job.error)
    assert m, lagging.job.error
    step = int(m.group(1))
    assert step == lagging.pruned_at_step and step < params["steps"]
    # the rule itself: its best loss so far at that step is above the completed trials' median there
    # (the pruner is asked once per flush of the trial's events, at the last point of the flush)
    curve = _loss_curve(lagging.job_id)
    goods = [_loss_curve(t.job_id) for t in good]
    best_so_far = min(v for k, v in curve.items() if k <= step)
    assert best_so_far > np.median([g[step] for g in goods])
    assert max(curve) < params["steps"]  # it stopped early
    assert sweep.best["job"] in {t.job_id for t in good}


def test_pause_holds_and_resume_goes_on(celery_worker, api):
    from django.utils import timezone

    # parallel 2 on one worker: the first trial runs, the second waits queued behind it
    sweep_id = create(api, {
        "kind": "train", "method": "grid", "parallel": 2, "params": {**TRAIN, "steps": 150, "log_every": 10},
        "space": {"lr": {"values": [0.003, 0.01, 0.03]}}, "objective": {"key": "final_loss", "goal": "min"}})
    first, second = SweepTrial.objects.filter(sweep_id=sweep_id).order_by("number")
    # 150 steps (~1.5 s): it is still running when the pause arrives
    wait_for_status(first.job_id, {"running"}, timeout=60)
    r = api.post(f"/api/sweeps/{sweep_id}/pause/")
    assert r.status_code == 200 and r.json()["status"] == "paused"
    paused_at = timezone.now()
    # the queued trial is held before it starts; the running one goes on and ends, and nothing new starts
    held = Job.objects.get(pk=second.job_id)
    assert held.status == "cancelled" and held.started_at is None and held.error.startswith("held:")
    sweep = wait_for_sweep(sweep_id, lambda s: not s.trials.filter(state="running").exists(), timeout=60)
    assert sweep.status == "paused" and sweep.trials.count() == 2
    assert Job.objects.get(pk=first.job_id).status == "succeeded"
    assert not Job.objects.filter(sweep_trial__sweep_id=sweep_id, status__in=Job.ACTIVE).exists()
    resumed_at = timezone.now()
    r = api.post(f"/api/sweeps/{sweep_id}/resume/")
    assert r.status_code == 200 and r.json()["status"] == "running"
    sweep = wait_for_sweep(sweep_id, ended, timeout=120)
    assert sweep.status == "succeeded", sweep.error
    trials = list(SweepTrial.objects.filter(sweep=sweep).select_related("job"))
    # the held trial's params ran again as a new trial; every grid point has a trial that succeeded
    rerun = next(t for t in trials if t.retry_of_id == second.job_id)
    assert rerun.params == second.params and not SweepTrial.objects.get(pk=second.pk).held
    assert sorted(t.params["lr"] for t in trials if t.job.status == "succeeded") == [0.003, 0.01, 0.03]
    assert len(trials) == 4
    # no trial started between the pause and the resume
    started = [t.job.started_at for t in trials if t.job.started_at is not None]
    assert all(s < paused_at or s > resumed_at for s in started)
    assert sum(s > resumed_at for s in started) == 2


def test_a_stopped_trial_does_not_fail_the_sweep_and_its_retry_runs_its_params(celery_worker, api):
    # parallel 2 on one worker: the first trial runs, the second waits queued, and is stopped there (a
    # stop ends a queued job at once; a running one stops at its next look at its cancel flag)
    sweep_id = create(api, {
        "kind": "train", "method": "grid", "parallel": 2, "params": {**TRAIN, "steps": 150, "log_every": 10},
        "space": {"lr": {"values": [0.003, 0.01]}}, "objective": {"key": "final_loss", "goal": "min"}})
    running, first = SweepTrial.objects.filter(sweep_id=sweep_id).order_by("number")
    wait_for_status(running.job_id, {"running"}, timeout=60)
    r = api.post(f"/api/sweeps/{sweep_id}/trials/{first.job_id}/stop/")
    assert r.status_code == 202, r.content
    assert Job.objects.get(pk=first.job_id).status == "cancelled"
    r = api.post(f"/api/sweeps/{sweep_id}/trials/{first.job_id}/retry/")
    assert r.status_code == 201, r.content
    sweep = wait_for_sweep(sweep_id, ended, timeout=120)
    assert sweep.status == "succeeded", sweep.error
    trials = {t.job_id: t for t in SweepTrial.objects.filter(sweep=sweep).select_related("job")}
    stopped, retry = trials[first.job_id], next(t for t in trials.values() if t.retry_of_id == first.job_id)
    assert stopped.job.status == "cancelled" and stopped.state == "fail" and stopped.values is None
    assert retry.params == stopped.params and retry.job.params["lr"] == stopped.params["lr"]
    assert retry.job.status == "succeeded" and retry.state == "complete"
    assert len(trials) == 3  # the grid's two, and the retry beyond max_trials
    complete = {t.job_id: t.job.result["final_loss"] for t in trials.values() if t.state == "complete"}
    assert sweep.best["job"] == min(complete, key=complete.get)
    assert api.post(f"/api/sweeps/{sweep_id}/trials/999999/stop/").status_code == 404


def test_the_sweep_socket_sends_the_sweep_at_each_change(celery_worker, live_server_url, token, api):
    from tests.helpers import ws_connect, ws_read

    sweep_id = create(api, {
        "kind": "sample", "method": "grid", "params": {"model": GMM, "n_samples": 64, "exact_subset": 16},
        "space": {"nfe": {"values": [4, 8]}}, "objective": {"key": "exact_rmse", "goal": "min"}})
    states = []
    with ws_connect(live_server_url, f"/ws/sweeps/{sweep_id}/", token=token) as conn:
        while not states or states[-1]["status"] != "succeeded":
            msg = ws_read(conn, timeout=60)
            assert msg["type"] == "sweep"
            states.append(msg["sweep"])
    assert states[-1]["best"]["job"] in states[-1]["trials"] and len(states[-1]["trials"]) == 2
    assert states[-1] == api.get(f"/api/sweeps/{sweep_id}/").json()
    with ws_connect(live_server_url, "/ws/sweeps/999999/", token=token) as conn:
        with pytest.raises(Exception):
            ws_read(conn, timeout=10)
        assert conn.close_code == 4404
