"""`train` continues training a diffusers UNet folder (ml/train/diffusers_unet.py; docs/kinds/train.md, "Your own
diffusers UNet"): the loss is diffusers' own training loss and falls, the output is a diffusers folder (and its zip)
holding the job's final EMA weights, `sample` runs on it, a resumed run ends where an uninterrupted one ends, and
a folder or data that does not fit is an error naming its field."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from ml import checkpoint
from ml.engine import Plan, fit, make_optimizer
from ml.reporting import Cancelled, PrintReporter
from ml.train import diffusers_unet, run
from ml.train.flow import DISTANCES
from ml.train.params import Params
from tests.ml.sample.unet_folder import make_unet_folder

diffusers = pytest.importorskip("diffusers")

FAST = {"steps": 12, "batch_size": 16, "lr": 1e-3, "warmup_steps": 2, "eval_every": 1000, "checkpoint_every": 5,
        "log_every": 4, "eval_samples": 16, "ref_nfe": 10, "device": "cpu"}


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    """A tiny epsilon UNet2DModel folder on 8x8 grey images (the folder is only read)."""
    return make_unet_folder(tmp_path_factory.mktemp("unet"))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """64 8x8 grey images in [-1, 1]: a bright bar at a random row on a dark ground."""
    rng = np.random.default_rng(0)
    x = np.full((64, 1, 8, 8), -0.8, dtype=np.float32)
    x[np.arange(64), 0, rng.integers(0, 8, 64)] = 0.8
    path = tmp_path_factory.mktemp("data") / "bars.npy"
    np.save(path, x)
    return path


def params(unet, images, **kw):
    return {**FAST, "objective": "vp_eps", "model": {"path": str(unet)}, "data": {"path": str(images)}, **kw}


def unet_state(folder, cls="UNet2DModel"):
    m = getattr(diffusers, cls).from_pretrained(str(folder / "unet"), use_safetensors=True, local_files_only=True)
    return m.state_dict()


def unzipped(out_dir, into):
    with zipfile.ZipFile(out_dir / "model.zip") as z:
        z.extractall(into)
    return into


def one_batch(table, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0, eps = torch.rand(8, 1, 8, 8, generator=g) * 2 - 1, torch.randn(8, 1, 8, 8, generator=g)
    return x0, eps, diffusers_unet.sample_timesteps(8, g, table)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_the_loss_is_diffusers_training_loss(tmp_path, prediction_type):
    folder = make_unet_folder(tmp_path, prediction_type=prediction_type)
    net, cfg, schedule = diffusers_unet.load(folder, (1, 8, 8), "cpu")
    table = diffusers_unet.alpha_sigma_table(schedule, "cpu")
    x0, eps, n = one_batch(table)
    with torch.no_grad():
        ours = diffusers_unet.discrete_vp_loss(net, x0, eps, n, table, cfg["prediction"], DISTANCES["l2"]).mean()
        # diffusers' train_unconditional.py step: add_noise at integer timesteps, eps or get_velocity as target
        s = diffusers.DDPMScheduler.from_pretrained(str(folder / "scheduler"))
        target = eps if prediction_type == "epsilon" else s.get_velocity(x0, eps, n)
        theirs = torch.nn.functional.mse_loss(net.unet(s.add_noise(x0, eps, n), n).sample, target)
    # same float32 network and inputs; only sqrt(abar) differs (ours from a float64 table, theirs float32 sqrt):
    # a few ulps, ~1e-7 relative on the loss; 1e-5 allows for the UNet's reductions in another order
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5)


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_a_few_engine_steps_on_one_batch_cut_its_loss(tmp_path, prediction_type):
    folder = make_unet_folder(tmp_path / "unet", prediction_type=prediction_type)
    net, cfg, schedule = diffusers_unet.load(folder, (1, 8, 8), "cpu")
    table = diffusers_unet.alpha_sigma_table(schedule, "cpu")
    x0, eps, n = one_batch(table)

    def loss(model, step, g):
        return diffusers_unet.discrete_vp_loss(model, x0, eps, n, table, cfg["prediction"], DISTANCES["l2"])

    with torch.no_grad():
        before = loss(net, 0, None).mean().item()
    fit(Plan(steps=20, lr=3e-3), net, make_optimizer("adamw", net.parameters(), 3e-3),
        loss, PrintReporter(tmp_path / "run", stream=io.StringIO()), torch.Generator().manual_seed(1))
    with torch.no_grad():
        after = loss(net, 0, None).mean().item()
    # a random UNet's loss is ~1.2 (eps: 1 + |output|^2) or ~0.5 (v); 41k parameters can fit 8 images' 512
    # targets exactly (minimum 0): 20 Adam steps reach 0.07-0.16 of the start (seeds 0-2), asserted 0.3
    assert before > 0.4 and after < 0.3 * before, (before, after)


@pytest.mark.parametrize("conditional", [False, True])
def test_the_output_is_a_diffusers_folder_holding_the_final_ema_weights(tmp_path, unet, images, conditional):
    source = make_unet_folder(tmp_path / "cond", conditional=True) if conditional else unet
    cls = "UNet2DConditionModel" if conditional else "UNet2DModel"
    rep = PrintReporter(tmp_path / "out", stream=io.StringIO())
    res = run(params(source, images, objective="vp_v"), rep)
    assert res["arch"] == f"diffusers.{cls}" and res["schedule"] == "vp_discrete"
    assert res["prediction"] == "v" and res["prediction_type"] == "v_prediction"
    published = {e["data"]["name"]: e["data"]["kind"] for e in rep.events if e["type"] == "artifact"}
    assert {k: v for k, v in published.items() if not k.startswith("preview")} == {
        "unet/config.json": "config", "unet/diffusion_pytorch_model.safetensors": "model",
        "scheduler/scheduler_config.json": "config", "model.zip": "model"}
    final = checkpoint.load(rep.out_dir / "checkpoint")
    assert final.step == FAST["steps"]
    ema = {k[len("ema.unet."):]: v for k, v in final.tensors.items() if k.startswith("ema.unet.")}
    start = unet_state(source, cls)
    for folder in (rep.out_dir, unzipped(rep.out_dir, tmp_path / "zip")):
        saved = unet_state(folder, cls)
        assert saved.keys() == ema.keys() == start.keys()
        for k in saved:
            assert torch.equal(saved[k], ema[k]), k   # the job's final EMA, bit for bit
        moved = max((saved[k] - start[k]).abs().max().item() for k in saved)
        # 12 Adam steps of lr <= 1e-3 move a weight by up to ~1e-2; the EMA keeps most of that (warm-up decay)
        assert moved > 1e-3, moved
        sched = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
        src = json.loads((source / "scheduler" / "scheduler_config.json").read_text())
        assert sched == {**src, "prediction_type": "v_prediction"}   # copied; the objective decides the prediction


def test_sample_runs_on_the_output_as_diffusers_samples_it(tmp_path, unet, images):
    from ml.sample import run as sample
    from tests.ml.sample.test_diffusers_unet import assert_parity, ddim_reference

    run(params(unet, images), PrintReporter(tmp_path / "out", stream=io.StringIO()))
    folder = unzipped(tmp_path / "out", tmp_path / "zip")
    rep = PrintReporter(tmp_path / "sample", stream=io.StringIO())
    res = sample({"model": {"path": str(folder)}, "sampler": "ddim", "nfe": 10, "n_samples": 4, "save_noise": True,
                  "device": "cpu"}, rep)
    assert res["prediction"] == "eps" and res["schedule"] == "vp_discrete"
    samples, noise = (torch.from_numpy(np.load(rep.out_dir / n)) for n in ("samples.npy", "noise.npy"))
    assert samples.shape == (4, 1, 8, 8)
    assert_parity(samples, ddim_reference(folder, 10, noise))   # diffusers' own DDIM on the trained folder


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, unet, images):
    p = params(unet, images, objective="vp_v")
    full = run(p, PrintReporter(tmp_path / "full", stream=io.StringIO()))
    from tests.ml.reporters import StopAfter

    with pytest.raises(Cancelled):
        run(p, StopAfter(tmp_path / "split", stop_after=7))   # stops between the checkpoints at 5 and 10
    second = StopAfter(tmp_path / "split", attempt=2)
    resumed = run(p, second)
    assert resumed["resumed_from"] == 7 and "resumed from step 7, attempt 2" in second.logs()
    # one thread, the same ops on the same batches, noise and timesteps from the restored generator: bitwise
    # equal; 1e-6 relative allows for a BLAS that picks its kernel by alignment
    assert resumed["final_loss"] == pytest.approx(full["final_loss"], rel=1e-6)
    a, b = unet_state(tmp_path / "full"), unet_state(tmp_path / "split")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-6, atol=1e-7)


def errors(p):
    with pytest.raises(ValidationError) as err:
        Params.model_validate(p)
    return {".".join(map(str, e["loc"])): e["msg"] for e in err.value.errors()}


def test_data_of_another_shape_is_an_error_naming_data(tmp_path, unet):
    np.save(tmp_path / "big.npy", np.zeros((4, 3, 16, 16), dtype=np.float32))
    assert errors({"objective": "vp_eps", "model": {"path": str(unet)}, "data": {"path": str(tmp_path / "big.npy")}}) \
        == {"data": "the data's images [C, H, W] = [3, 16, 16]; the UNet takes images [C, H, W] = [1, 8, 8] "
                    "(in_channels 1, sample_size 8): give images of that size"}
    assert list(errors({"objective": "vp_v", "model": {"path": str(unet)}, "data": {"type": "moons"}})) == ["data"]
    # the digits are 1 x 8 x 8: they fit this UNet
    assert Params.model_validate({"objective": "vp_eps", "model": {"path": str(unet)}, "data": {"type": "digits"}})


def test_a_folder_that_is_no_diffusers_unet_and_the_own_net_fields_are_errors_naming_them(tmp_path, unet, images):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "model.json").write_text("{}")
    got = errors(params(tmp_path / "lab", images))
    assert list(got) == ["model"] and "continues training a diffusers UNet" in got["model"]
    assert errors(params(unet, images, width=64)) == {
        "width": "applies to the lab's own networks; a diffusers UNet is trained with its own architecture"}
    got = errors({**params(unet, images), "objective": "rectified_flow"})
    assert list(got) == ["model"] and "applies only when objective is" in got["model"]
    # a folder of neither kind passes the params (its files may not be fetched yet) and fails the job, saying why
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"^model: a VP objective given a model continues training a diffusers UNet"):
        run(params(tmp_path / "empty", images), PrintReporter(tmp_path / "out", stream=io.StringIO()))


def test_a_terminal_run_refuses_data_of_another_shape_by_name(tmp_path, unet):
    import subprocess
    import sys

    np.save(tmp_path / "big.npy", np.zeros((4, 1, 16, 16), dtype=np.float32))
    (tmp_path / "p.json").write_text(json.dumps({"objective": "vp_eps", "model": {"path": str(unet)},
                                                 "data": {"path": str(tmp_path / "big.npy")}}))
    r = subprocess.run([sys.executable, "-m", "ml.train", "--params", str(tmp_path / "p.json"), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("data: the data's images [C, H, W] = [1, 16, 16]"), r.stderr


def test_the_evaluation_solves_a_large_unet_in_chunks_as_in_one_batch(unet):
    from ml.train.ode import solve

    net, cfg, schedule = diffusers_unet.load(unet, (1, 8, 8), "cpu")
    net.eval()
    z = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    whole, chunked = (solve(net, cfg, z, 4, schedule=schedule, chunk=c) for c in (None, 3))
    # each sample's ODE is its own; only the convolutions' batched rounding differs (float32 ulps)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-5)


def test_two_gloo_processes_train_the_unet_as_one_does(tmp_path, unet, images):
    p = params(unet, images, steps=6, log_every=1)
    one, two = (PrintReporter(tmp_path / name, stream=io.StringIO()) for name in ("one", "two"))
    r1, r2 = run(p, one), run({**p, "world_size": 2}, two)
    assert r2["world_size"] == 2
    # the same global batch split 8 + 8 (the timesteps reach the UNet through DDP's forward): only the order of
    # float32 sums differs, ~1e-7 relative per step, which 6 Adam steps amplify by at most a few orders
    for (_, a), (_, b) in zip(one.metrics("loss"), two.metrics("loss"), strict=True):
        assert b == pytest.approx(a, rel=1e-4)
    a, b = unet_state(tmp_path / "one"), unet_state(tmp_path / "two")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
