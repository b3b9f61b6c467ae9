"""Continue training a diffusers UNet (a `sample` model folder: unet/ + scheduler/) with vp_eps, vp_v or vp_x0.

DDPM's training step (Ho et al. 2020, Algorithm 1) as diffusers' own examples run it (train_unconditional.py):
a timestep n uniform in {0, ..., N - 1}, x_n = sqrt(abar_n) x0 + sqrt(1 - abar_n) eps with abar from the
folder's scheduler config (its betas, read as `sample` reads them: `VPDiscrete.from_diffusers`), the UNet
called at the integer n, and the target eps, v = sqrt(abar_n) eps - sqrt(1 - abar_n) x0 (Salimans & Ho 2022;
diffusers' `get_velocity`) or x0. In continuous time that is t = (n + 1) / N, the nodes of VPDiscrete, where
`sample` calls the network at t N - 1 = n: the model is trained and sampled on one schedule.

The objective decides what the trained network predicts, and the saved scheduler config says so
(`prediction_type`): continuing an epsilon model with vp_v gives a v_prediction model. The output is the EMA
weights as a diffusers folder (`save_pretrained`, safetensors) with the scheduler config copied, published file
by file (so `sample` finds the folder from the object store too) and as `model.zip`, the folder zipped as an
upload is.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch

from ml.durable import replace_with, write_text
from ml.sample import diffusers_unet
from ml.train.vp import target_of

PREDICTION_TYPE = {"vp_eps": "epsilon", "vp_v": "v_prediction", "vp_x0": "sample"}
FOLDERS = ("unet", "scheduler")
NOT_A_FOLDER = ("a VP objective given a model continues training a diffusers UNet: a folder with unet/ and "
                "scheduler/ as save_pretrained writes them; this model is not one")


def continues(p) -> bool:
    """Whether a train job continues training a diffusers UNet: a VP objective given a model."""
    return p.model is not None and p.objective in PREDICTION_TYPE


def shape_misfit(folder, data_shape) -> str | None:
    """Why data whose samples are shaped `data_shape` cannot train this UNet (None: they can). A folder that is
    no diffusers UNet the job runs raises ValueError naming what it lacks."""
    want = diffusers_unet.read_config(folder)["data_shape"]
    if list(data_shape) == want:
        return None
    what = "images [C, H, W] =" if len(data_shape) == 3 else "samples of shape"
    return (f"the data's {what} {list(data_shape)}; the UNet takes images [C, H, W] = {want} (in_channels "
            f"{want[0]}, sample_size {want[1] if want[1] == want[2] else want[1:]}): give images of that size")


def load(path, data_shape, device):
    """(net in training mode, config for the evaluation and the result, schedule) of the folder at `path`."""
    if path is None:
        raise ValueError("model: the job system fills 'path' from 'artifact'; a terminal run gives "
                         "{\"path\": \"<diffusers folder>\"}")
    if not diffusers_unet.is_diffusers_folder(path):
        raise ValueError(f"model: {NOT_A_FOLDER}")
    why = shape_misfit(path, data_shape)
    if why:
        raise ValueError(f"data: {why}")
    net, cfg, schedule = diffusers_unet.load(path, device)
    return net.train(), cfg, schedule


def alpha_sigma_table(schedule, device) -> torch.Tensor:
    """[2, N]: sqrt(abar_n), sqrt(1 - abar_n) for n = 0..N-1, from the schedule's float64 table."""
    log_alpha = torch.tensor(schedule.log_alphas[1:], dtype=torch.float64)
    return torch.stack([log_alpha.exp(), (-torch.expm1(2 * log_alpha)).sqrt()]).float().to(device)


def sample_timesteps(n, generator, table):
    return torch.randint(0, table.shape[1], (n,), generator=generator, device=table.device)


def discrete_vp_loss(net, x0, eps, timesteps, table, prediction, distance):
    """Per-sample distance(UNet(x_n, n), target) at diffusers' integer timesteps n."""
    alpha, sigma = (v[timesteps].reshape(-1, *([1] * (x0.dim() - 1))) for v in table)
    xt = alpha * x0 + sigma * eps
    return distance(net(xt, timesteps, discrete=True), target_of(prediction, x0, eps, alpha, sigma))


def model_config(p, cfg) -> dict:
    """What the evaluation, the preview and the result read (model.json's keys, for a folder with none)."""
    return {**cfg, "prediction_type": PREDICTION_TYPE[p.objective], "prediction": p.objective[3:],
            "objective": p.objective, "recommended": {"sampler": "dpm_solver_pp_2m", "nfe": 10}}


def save(out_dir, ema, source, objective, reporter) -> Path:
    """Write the EMA UNet and the source's scheduler config (its prediction_type the objective's) as a diffusers
    folder in out_dir, publish its files and model.zip; returns the folder."""
    out_dir = Path(out_dir)
    ema.unet.save_pretrained(str(out_dir / "unet"), safe_serialization=True)
    sched = json.loads((Path(source) / "scheduler" / "scheduler_config.json").read_text())
    sched["prediction_type"] = PREDICTION_TYPE[objective]
    (out_dir / "scheduler").mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "scheduler" / "scheduler_config.json", json.dumps(sched, indent=2, sort_keys=True))
    files = sorted(f for name in FOLDERS for f in (out_dir / name).rglob("*") if f.is_file())

    def write_zip(tmp):
        # stored, not deflated: safetensors weights barely compress; unet/ and scheduler/ at the root, as uploaded
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for f in files:
                z.write(f, f.relative_to(out_dir).as_posix())

    replace_with(out_dir / "model.zip", write_zip)
    for f in files:
        reporter.artifact(f.relative_to(out_dir).as_posix(), f, "model" if f.suffix == ".safetensors" else "config")
    reporter.artifact("model.zip", out_dir / "model.zip", "model")
    return out_dir
