"""Reflow, k-step distillation and SlimFlow, each trained from one shared 1-RF teacher on the 2-D mixture."""
import io

import pytest
import torch

from ml.modelio import load_model
from ml.reporting import PrintReporter
from ml.train import run
from ml.train.metrics import rms_error
from ml.train.ode import solve

FLOW = {"schedule": "flow", "prediction": "flow"}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_base):
    out = tmp_path_factory.mktemp("teacher")
    result = run({**tiny_base, "steps": 400, "ref_nfe": 200}, PrintReporter(out, stream=io.StringIO(), quiet_progress=True))
    return out, result


def _child(tmp_path, params):
    rep = PrintReporter(tmp_path / "child", stream=io.StringIO(), quiet_progress=True)
    return rep, run(params, rep)


PAIRS = {"reflow_pairs": 2048, "teacher_nfe": 41, "ref_nfe": 200}


def test_reflow_straightens_the_flow_and_cuts_the_one_step_error(tmp_path, teacher, tiny):
    path, t_res = teacher
    _, res = _child(tmp_path, {**tiny, **PAIRS, "objective": "reflow", "model": {"path": str(path)}, "steps": 250,
                               "lr": 1e-3, "timesteps": "u_shaped", "loss": "pseudo_huber"})
    # measured: straightness 0.65 -> 0.006, one-step error 1.25 -> 0.14 (Liu et al. report the same kind of
    # drop); demanding a factor 3 and 2 leaves room for seeds and thread counts
    assert res["eval"]["straightness"] < t_res["eval"]["straightness"] / 3
    assert res["eval"]["one_step_error"] < t_res["eval"]["one_step_error"] / 2
    assert res["eval"]["sw_nfe1"] < t_res["eval"]["sw_nfe1"] / 2
    _, cfg = load_model(tmp_path / "child")
    assert cfg["parent"]["path"] == str(path) and cfg["objective"] == "reflow"


def test_k_step_distillation_matches_the_teacher_at_k_steps(tmp_path, teacher, tiny):
    path, _ = teacher
    _, res = _child(tmp_path, {**tiny, **PAIRS, "objective": "distill", "distill_steps": 2,
                               "model": {"path": str(path)}, "steps": 250, "lr": 1e-3})
    t_net, _ = load_model(path)
    s_net, cfg = load_model(tmp_path / "child")
    assert cfg["recommended"] == {"sampler": "rf_euler", "nfe": 2}
    z = torch.randn(500, 2, generator=torch.Generator().manual_seed(3))
    target = solve(t_net, FLOW, z, 41, "heun")  # what the teacher's ODE maps z to
    # the teacher's own 2-step Euler error is ~0.5 here; the student is trained for exactly this map
    assert rms_error(solve(s_net, FLOW, z, 2), target) < 0.5 * rms_error(solve(t_net, FLOW, z, 2), target)


def test_slimflow_gives_a_smaller_one_step_student_close_to_its_teacher(tmp_path, teacher, tiny):
    path, t_res = teacher
    rep, res = _child(tmp_path, {**tiny, **PAIRS, "objective": "slimflow", "model": {"path": str(path)},
                                 "width": 32, "depth": 2, "steps": 300, "lr": 2e-3})
    assert res["n_params"] < t_res["n_params"] / 2
    assert res["recommended"] == {"sampler": "rf_euler", "nfe": 1}
    # one step of the 1-RF teacher lands between the modes (SW ~1.2); the student is trained for one step
    assert res["eval"]["sw_nfe1"] < t_res["eval"]["sw_nfe1"] / 2


def test_pairs_of_a_vp_teacher_come_from_the_sample_solvers(tmp_path, tiny):
    from ml.sample import sample_model
    from ml.train import Params
    from ml.train.objectives import teacher_pairs

    vp_dir = tmp_path / "vp"
    run({**tiny, "objective": "vp_eps", "steps": 30, "eval_samples": 64, "ref_nfe": 10},
        PrintReporter(vp_dir, stream=io.StringIO(), quiet_progress=True))
    net, cfg = load_model(vp_dir)
    p = Params.model_validate({**tiny, "objective": "reflow", "model": {"path": str(vp_dir)}, "reflow_pairs": 64,
                               "teacher_nfe": 8})
    z, x0 = teacher_pairs(net, cfg, p, (2,), torch.device("cpu"))
    with torch.no_grad():
        expected = sample_model(net, cfg, z, sampler="dpm_solver_pp_2m", nfe=8)
    torch.testing.assert_close(x0, expected, rtol=0, atol=0)
    # a flow student of a VP teacher starts from scratch (eps weights are not velocity weights)
    _, res = _child(tmp_path, {**tiny, **PAIRS, "objective": "reflow", "model": {"path": str(vp_dir)},
                               "steps": 5, "reflow_pairs": 64, "teacher_nfe": 8, "eval_samples": 64, "ref_nfe": 10})
    assert res["schedule"] == "flow" and res["prediction"] == "flow"
