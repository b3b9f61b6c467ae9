"""`lab sweep create` and `Lab.sweep` against the live server and a real worker."""
import json

import pytest

from labclient import ApiError, Lab

from .conftest import GMM, run_lab

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

SPEC = {"name": "nfe", "kind": "sample", "method": "grid",
        "params": {"model": GMM, "sampler": "dpm_solver_pp_2m", "n_samples": 128, "exact_subset": 32},
        "space": {"nfe": {"values": [4, 8]}}, "objective": {"key": "exact_rmse", "goal": "min"}}


def test_lab_sweep_create_watches_a_grid_to_its_best(celery_worker, live_server_url, token, lab_env, tmp_path):
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps(SPEC))
    done = run_lab(lab_env(live_server_url), "sweep", "create", str(spec), "--watch", "--json")
    assert done.returncode == 0, done.stderr
    states = [json.loads(line) for line in done.stdout.splitlines()]
    last = states[-1]
    assert last["status"] == "succeeded" and len(last["trials"]) == 2
    # the Python client reads the same sweep; its best is the trial with the lowest error
    lab = Lab(live_server_url, token)
    sweep_id = int(done.stderr.split("sweep ", 1)[1].split()[0])
    sweep = lab.get_sweep(sweep_id)
    errors = {j.id: j.result["exact_rmse"] for j in sweep.trials()}
    assert sweep.best == {"job": min(errors, key=errors.get), "value": min(errors.values()),
                          "params": {"nfe": 8}}  # DPM-Solver++(2M) is second order: more NFE, less error


def test_lab_sweep_wait_and_a_bad_space(celery_worker, live_server_url, token, lab_env, tmp_path):
    lab = Lab(live_server_url, token)
    sweep = lab.sweep(SPEC, name="from python", space={"nfe": {"values": [3]}})
    data = sweep.wait()  # over /ws/sweeps/<id>/
    assert data.status == "succeeded" and data.best["params"] == {"nfe": 3} and len(data.trials) == 1
    with pytest.raises(ApiError) as exc:
        lab.sweep(SPEC, space={"nfe": {"low": 3, "high": 9}})  # a grid takes lists
    assert exc.value.status == 400 and "space.nfe" in exc.value.body
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps({**SPEC, "objective": {"key": "exact_rmse", "goal": "down"}}))
    bad = run_lab(lab_env(live_server_url), "sweep", "create", str(spec))
    assert bad.returncode == 4 and "objective.goal" in bad.stderr, bad.stderr


def test_lab_sweep_pause_show_and_cancel(celery_worker, live_server_url, token, lab_env, tmp_path):
    env = lab_env(live_server_url)
    spec = tmp_path / "sweep.json"
    spec.write_text(json.dumps({**SPEC, "parallel": 1, "space": {"nfe": {"values": [4, 8, 16]}}}))
    made = run_lab(env, "sweep", "create", str(spec), "--json")
    assert made.returncode == 0, made.stderr
    sweep_id = json.loads(made.stdout)["id"]
    assert run_lab(env, "sweep", "pause", str(sweep_id)).returncode == 0
    shown = run_lab(env, "sweep", "show", str(sweep_id), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["status"] == "paused"
    assert run_lab(env, "sweep", "cancel", str(sweep_id)).returncode == 0
    lab = Lab(live_server_url, token)
    assert lab.get_sweep(sweep_id).status == "cancelled"
    again = run_lab(env, "sweep", "resume", str(sweep_id))
    assert again.returncode == 3 and "409" in again.stderr  # a cancelled sweep does not resume
    table = run_lab(env, "sweep", "show", str(sweep_id))
    assert table.returncode == 0 and f"sweep {sweep_id} cancelled" in table.stdout
