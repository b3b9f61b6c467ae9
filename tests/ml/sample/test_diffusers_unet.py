"""A diffusers UNet folder (unet/ + scheduler/) sampled by our solvers: parity with diffusers' own schedulers,
prediction types, beta schedules, the conditional UNet run unconditionally, refusals, the terminal run.

Parity settings, chosen so both sides place their steps on the same discrete timesteps:
- DDIM: `DDIMScheduler(timestep_spacing="trailing", set_alpha_to_one=True, clip_sample=False)`, eta 0, against our
  `ddim` on the `uniform_t` grid with final_step "denoise": t_k = 1 - k/N, i.e. timesteps 999, 999 - 1000/N, ..,
  1000/N - 1 and a last step into alpha = 1. N must divide num_train_timesteps (5, 10, 20): otherwise diffusers'
  "trailing" rounds the timesteps while its step still goes back 1000 // N (diffusers issue #12633).
- DPM-Solver++(2M): `DPMSolverMultistepScheduler(timestep_spacing="trailing")` (dpmsolver++, order 2, final sigma 0,
  lower_order_final below 15 steps), against our `dpm_solver_pp_2m` with its default plan on the same grid.
Tolerance: both sides run the same float32 network on the same float32 alphas_cumprod; only the scalar
coefficients differ (ours float64, theirs float32, ~6e-8 relative) and a step's rounding is a few float32
ulps of |x|. Measured <= 5e-7 * max|x| over 20 steps; asserted 1e-5 * max|x|. Calling the network one
timestep off (t N instead of t N - 1) misses by 1.6e-4 * max|x| (measured), 16x the tolerance.
"""
from __future__ import annotations

import functools
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from ml.reporting import PrintReporter
from ml.sample import run
from ml.sample.diffusers_unet import load
from ml.sample.model import Model
from ml.sample.runner import solve
from tests.ml.sample.unet_folder import make_unet_folder

diffusers = pytest.importorskip("diffusers")

RTOL = 1e-5


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    cache = {}

    def folder(**kw):
        key = json.dumps(kw, sort_keys=True)
        if key not in cache:
            cache[key] = make_unet_folder(tmp_path_factory.mktemp("unet"), **kw)
        return cache[key]

    return folder


@functools.lru_cache(maxsize=None)
def loaded(folder):
    """load(folder), once per folder: these tests only read the network."""
    return load(folder)


def noise_like(cfg, n=4, seed=0):
    return torch.randn(n, *cfg["data_shape"], generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def diffusers_loop(scheduler, unet, x, conditional=False):
    """The standard diffusers sampling loop at the scheduler's own integer timesteps."""
    extra = {"encoder_hidden_states": x.new_zeros(len(x), 1, unet.config.cross_attention_dim)} if conditional else {}
    for t in scheduler.timesteps:
        x = scheduler.step(unet(x, t, **extra).sample, t, x).prev_sample
    return x


def ddim_reference(folder, n, x, conditional=False):
    s = diffusers.DDIMScheduler.from_pretrained(str(folder / "scheduler"), timestep_spacing="trailing",
                                                set_alpha_to_one=True, clip_sample=False)
    s.set_timesteps(n)
    return diffusers_loop(s, loaded(folder)[0].unet, x, conditional)


@torch.no_grad()
def ours(folder, sampler, n, x, grid="uniform_t"):
    net, cfg, schedule = loaded(folder)
    return solve(Model(net, cfg["prediction"], schedule), x, sampler, n, grid=grid)[0]


def assert_parity(a, ref):
    gap = (a - ref).abs().max().item()
    scale = max(1.0, ref.abs().max().item())
    assert gap <= RTOL * scale, (gap, scale)


@pytest.mark.parametrize("n", [5, 10, 20])
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
def test_ddim_matches_diffusers_ddim_scheduler(folders, n, prediction_type):
    folder = folders(prediction_type=prediction_type)
    x = noise_like(loaded(folder)[1])
    assert_parity(ours(folder, "ddim", n, x.clone()), ddim_reference(folder, n, x.clone()))


@pytest.mark.parametrize("betas", [{"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
                                   {"beta_schedule": "squaredcos_cap_v2"},
                                   {"trained_betas": np.linspace(2e-4, 0.03, 1000).tolist()}])
def test_the_schedulers_betas_are_the_vp_schedule(folders, betas):
    folder = folders(**betas)
    _, cfg, schedule = loaded(folder)
    acp = diffusers.DDIMScheduler.from_pretrained(str(folder / "scheduler")).alphas_cumprod.double()
    # the table's nodes t_n = (n + 1) / N carry diffusers' alphas_cumprod exactly (float64 log/exp round trip)
    for k in (0, 499, 999):
        assert abs(schedule.alpha((k + 1) / 1000) ** 2 - acp[k].item()) < 1e-12
    x = noise_like(cfg)
    assert_parity(ours(folder, "ddim", 10, x.clone()), ddim_reference(folder, 10, x.clone()))


@pytest.mark.parametrize("n,prediction_type", [(5, "epsilon"), (10, "epsilon"), (20, "epsilon"), (10, "v_prediction")])
def test_dpm_solver_pp_2m_matches_diffusers_multistep_scheduler(folders, n, prediction_type):
    folder = folders(prediction_type=prediction_type)
    x = noise_like(loaded(folder)[1])
    s = diffusers.DPMSolverMultistepScheduler.from_pretrained(str(folder / "scheduler"), timestep_spacing="trailing")
    s.set_timesteps(n)
    assert s.config.algorithm_type == "dpmsolver++" and s.config.solver_order == 2
    assert_parity(ours(folder, "dpm_solver_pp_2m", n, x.clone()), diffusers_loop(s, loaded(folder)[0].unet, x.clone()))


def test_a_conditional_unet_runs_unconditionally_with_zero_encoder_states(folders):
    folder = folders(conditional=True)
    net, cfg, _ = loaded(folder)
    assert cfg["arch"] == "diffusers.UNet2DConditionModel"
    x = noise_like(cfg)
    assert_parity(ours(folder, "ddim", 10, x.clone()), ddim_reference(folder, 10, x.clone(), conditional=True))


def test_pickled_weights_are_refused_without_being_read(folders, tmp_path):
    import shutil

    src = folders()
    shutil.copytree(src, tmp_path / "m")
    for f in (tmp_path / "m" / "unet").glob("*.safetensors"):
        f.rename(f.with_suffix(".bin"))   # a .bin is a pickle to diffusers; ours must not open it
    with pytest.raises(ValueError, match="pickles, never loaded"):
        load(tmp_path / "m")


def test_unknown_prediction_type_and_zero_snr_are_refused(folders, tmp_path):
    import shutil

    for change, words in (({"prediction_type": "flow"}, "prediction_type 'flow'"),
                          ({"rescale_betas_zero_snr": True}, "zero terminal SNR")):
        shutil.copytree(folders(), tmp_path / "m", dirs_exist_ok=True)
        f = tmp_path / "m" / "scheduler" / "scheduler_config.json"
        f.write_text(json.dumps({**json.loads(f.read_text()), **change}))
        with pytest.raises(ValueError, match=words):
            run({"model": {"path": str(tmp_path / "m")}, "n_samples": 2, "nfe": 2}, PrintReporter(tmp_path / "out"))


def test_the_job_writes_samples_noise_and_an_image_grid(folders, tmp_path):
    folder = folders()
    rep = PrintReporter(tmp_path / "out", quiet_progress=True)
    res = run({"model": {"path": str(folder)}, "sampler": "ddim", "nfe": 10, "n_samples": 6, "batch_size": 4,
               "save_noise": True, "seed": 3}, rep)
    samples, noise = np.load(tmp_path / "out" / "samples.npy"), np.load(tmp_path / "out" / "noise.npy")
    assert samples.shape == noise.shape == (6, 1, 8, 8)
    assert res["schedule"] == "vp_discrete" and res["arch"] == "diffusers.UNet2DModel" and res["nfe_used"] == 10
    assert (tmp_path / "out" / "samples.png").stat().st_size > 0
    # the job's samples are diffusers' DDIM from the job's own noise (two chunks: 4 + 2)
    assert_parity(torch.from_numpy(samples), ddim_reference(folder, 10, torch.from_numpy(noise)))


def test_python_m_ml_sample_runs_a_diffusers_folder(folders, tmp_path):
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"model": {"path": str(folders())}, "sampler": "dpm_solver_pp_2m", "nfe": 6,
                                  "n_samples": 3}))
    r = subprocess.run([sys.executable, "-m", "ml.sample", "--params", str(params), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "o" / "result.json").read_text())["data_shape"] == [1, 8, 8]
    assert np.load(tmp_path / "o" / "samples.npy").shape == (3, 1, 8, 8)


# theory order, and what the test asserts: the measured slope of log error vs log NFE >= bound. The multistep
# methods (DPM-Solver++(3M), DEIS, PNDM/PLMS) start with a lower-order warm-up step whose local error
# O(h^2) (O(h^3) for PLMS's and PNDM's) caps the global order at 2 wherever the first step's error
# dominates; on this random UNet it does (x0 = (x - sigma eps)/alpha moves fastest at high noise): measured
# 1.8-1.9 for 3M/DEIS-2/DEIS-3 at 40-80 NFE with identical errors for all three, and a singlestep
# DPM-Solver-3, which has no warm-up, keeps its 2.9. On the mixture (tests/ml/sample) they show full order.
ORDERS = {
    "ddim": (1, 0.5), "dpm_solver_1": (1, 0.5), "euler": (1, 0.5), "rf_euler": (1, 0.5),
    "dpm_solver_2": (2, 1.5), "dpm_solver_pp_2m": (2, 1.5), "deis_1": (2, 1.5), "heun": (2, 1.5),
    "rf_heun": (2, 1.5), "dpm_solver_3": (3, 2.5),
    "dpm_solver_pp_3m": (3, 1.5), "deis_2": (3, 1.5), "deis_3": (4, 1.5), "pndm": (4, 1.5), "plms": (4, 1.5),
}
# NFEs in each solver's asymptotic range on this model (Euler and Heun in x on a VP model are stiff at t = 1)
NFES = {"rf_heun": (40, 80, 160)}


@pytest.fixture(scope="module")
def order_setup(folders):
    """float64 network (the float32 floor would flatten high-order errors), 4 samples, and the reference:
    singlestep DPM-Solver-3 at 450 NFE (its error there ~1e-3, 1/200 of the smallest error measured below)."""
    net, cfg, schedule = load(folders())   # its own copy: made float64 here
    model = Model(net.double(), cfg["prediction"], schedule)
    x = noise_like(cfg).double()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # module scope runs before the folder's one-thread fixture: threads contend 20x
    with torch.no_grad():
        ref, _ = solve(model, x.clone(), "dpm_solver_3", 450, grid="logsnr", final_step="t_eps")
    torch.set_num_threads(threads)
    return model, x, ref


def test_every_solver_is_listed():
    from ml.sample.samplers import SAMPLERS

    assert set(ORDERS) == set(SAMPLERS)


@pytest.mark.parametrize("sampler", sorted(ORDERS))
def test_every_solver_converges_at_its_order_on_the_unet(order_setup, sampler):
    from ml.sample.metrics import convergence_order, rmse

    model, x, ref = order_setup
    # PNDM's coefficients assume equal steps (uniform t, the paper's grid); the others: uniform logSNR
    grid = "uniform_t" if sampler in ("pndm", "plms") else "logsnr"
    errs = {}
    for n in NFES.get(sampler, (20, 40, 80)):
        with torch.no_grad():
            out, info = solve(model, x.clone(), sampler, n, grid=grid, final_step="t_eps")
        assert info["grid_times"][0] == 1.0 and info["grid_times"][-1] == model.schedule.t_eps
        errs[n] = rmse(out, ref)
    order, bound = ORDERS[sampler]
    assert convergence_order(errs) >= bound, (order, errs)


def test_a_folder_the_job_cannot_run_is_refused_at_validation_naming_the_model(folders, tmp_path):
    import shutil

    from pydantic import ValidationError

    from ml.sample import Params

    shutil.copytree(folders(), tmp_path / "m")
    f = tmp_path / "m" / "unet" / "config.json"
    f.write_text(json.dumps({**json.loads(f.read_text()), "_class_name": "UNet3DConditionModel"}))
    with pytest.raises(ValidationError) as err:
        Params.model_validate({"model": {"path": str(tmp_path / "m")}})
    assert err.value.errors()[0]["loc"] == ("model",) and "UNet3DConditionModel" in str(err.value)
    with pytest.raises(ValidationError, match="masked diffusion models"):
        Params.model_validate({"model": {"path": str(folders())}, "sampler": "mdlm_ddpm"})
