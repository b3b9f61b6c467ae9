import pytest
import torch

from ml.modelio import load_model
from ml.reporting import Cancelled
from ml.train import run


def test_training_lowers_the_loss_and_beats_an_untrained_model(reporter_factory, tiny):
    untrained = run({**tiny, "steps": 1, "lr": 1e-12, "warmup_steps": 0}, reporter_factory("untrained"))
    rep = reporter_factory("trained")
    trained = run({**tiny, "steps": 300}, rep)
    losses = [v for _, v in rep.metrics("loss")]
    # the 1-RF loss starts near E|z - x0|^2 / 2 ~ 2.6 per coordinate (data variance ~1.7 + noise 1) and its
    # irreducible part on this mixture is ~1.4; 300 steps must take off a good part of the gap
    assert losses[-1] < losses[0] - 0.3
    ev, ev0 = trained["eval"], untrained["eval"]
    # untrained samples are the noise itself (zero-initialised output layer): SW ~0.5; trained ~0.15,
    # floor ~0.1 at n = 500. Half the untrained distance leaves a wide margin on both sides.
    assert ev["sw_nfe10"] < 0.5 * ev0["sw_nfe10"]
    assert ev["sw_nfe10"] > 0.5 * ev["sw_floor"]  # nothing beats data-vs-data by that much: the metric is sane
    names = {e["data"]["name"] for e in rep.events if e["type"] == "metric"}
    assert {"loss", "lr", "grad_norm", "samples_per_s", "eval_sw_nfe10", "eval_straightness"} <= names


def test_the_saved_model_is_the_ema_and_loads_with_its_config(reporter_factory, tiny):
    rep = reporter_factory()
    result = run({**tiny, "steps": 20}, rep)
    model, cfg = load_model(rep.out_dir)
    assert cfg["prediction"] == "flow" and cfg["schedule"] == "flow" and cfg["data_shape"] == [2]
    assert cfg["data"]["type"] == "gmm" and cfg["objective"] == "rectified_flow"
    assert result["n_params"] == sum(p.numel() for p in model.parameters())
    kinds = {(e["data"]["name"], e["data"]["kind"]) for e in rep.events if e["type"] == "artifact"}
    assert ("model.safetensors", "model") in kinds and ("model.json", "config") in kinds
    assert any(kind == "image" for _, kind in kinds)
    out = model(torch.zeros(3, 2), torch.ones(3))
    assert out.shape == (3, 2)


@pytest.mark.parametrize("optimizer", ["adamw", "lion"])
def test_a_resumed_run_ends_where_an_uninterrupted_run_ends(reporter_factory, tiny, optimizer):
    params = {**tiny, "steps": 60, "optimizer": optimizer, "lr": 3e-3 if optimizer == "adamw" else 3e-4,
              "checkpoint_every": 20, "eval_every": 30}
    full = run(params, reporter_factory("full"))

    first = reporter_factory("split", stop_after=25)  # stops between two periodic checkpoints
    with pytest.raises(Cancelled):
        run(params, first)
    second = reporter_factory("split", attempt=2)
    resumed = run(params, second)
    assert any("resumed from step 25, attempt 2" in e["data"]["text"] for e in second.events if e["type"] == "log")
    # one thread, same ops, same data, same RNG stream: the runs are bitwise equal; 1e-6 relative allows for
    # a BLAS that picks its kernel by alignment
    assert resumed["final_loss"] == pytest.approx(full["final_loss"], rel=1e-6)
    for key, value in full["eval"].items():
        assert resumed["eval"][key] == pytest.approx(value, rel=1e-6), key
    a, _ = load_model(reporter_factory("full").out_dir)
    b, _ = load_model(second.out_dir)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("objective", ["vp_eps", "vp_x0", "vp_v"])
def test_vp_diffusion_beats_an_untrained_model(reporter_factory, tiny, objective):
    params = {**tiny, "objective": objective}
    untrained = run({**params, "steps": 1, "lr": 1e-12, "warmup_steps": 0}, reporter_factory("u"))
    trained = run({**params, "steps": 250}, reporter_factory("t"))
    # an untrained x0/v/eps net maps noise to 0 or to noise/alpha: SW >= 0.5; trained DPM-Solver++ 10 NFE ~0.2
    assert trained["eval"]["sw_nfe10"] < 0.6 * untrained["eval"]["sw_nfe10"]
    assert trained["schedule"] == "vp_linear" and trained["prediction"] == objective[3:]


def test_a_crashed_run_resumes_from_its_last_periodic_checkpoint(reporter_factory, tiny):
    params = {**tiny, "steps": 50, "checkpoint_every": 20, "eval_every": 100000}
    full = run(params, reporter_factory("full"))

    crashing = reporter_factory("crash")

    def progress(done, total, _orig=crashing.progress):
        _orig(done, total)
        if done == 33:  # a worker lost mid-run: no stop checkpoint, only the periodic one at step 20
            raise RuntimeError("worker lost")

    crashing.progress = progress
    with pytest.raises(RuntimeError, match="worker lost"):
        run(params, crashing)
    second = reporter_factory("crash", attempt=2)
    resumed = run(params, second)
    assert resumed["resumed_from"] == 20
    assert any("resumed from step 20, attempt 2" in e["data"]["text"] for e in second.events if e["type"] == "log")
    # same reasoning as the graceful case: bitwise equal runs, 1e-6 relative for BLAS kernel choice
    assert resumed["final_loss"] == pytest.approx(full["final_loss"], rel=1e-6)
    assert resumed["eval"]["sw_nfe10"] == pytest.approx(full["eval"]["sw_nfe10"], rel=1e-6)
