"""A diffusers UNet as a `sample` model: a folder with `unet/` and `scheduler/` as `save_pretrained` writes them.

- `unet/`: a UNet2DModel, or a UNet2DConditionModel run unconditionally: its cross-attention gets a zero
  encoder_hidden_states of one token ([B, 1, cross_attention_dim]). That is the unconditional input of a
  model trained with conditioning dropped to zeros; a text-to-image model's unconditional input is the
  text encoder's embedding of "" instead, which this folder does not hold. Weights are read from
  safetensors only (`use_safetensors=True`; a `.bin` is never unpickled), with no download.
- `scheduler/`: any diffusers scheduler config; only its betas and `prediction_type` are read. The betas
  become the VP schedule `VPDiscrete` (DPM-Solver's NoiseScheduleVP('discrete')), and the network is called
  at the discrete timestep t N - 1. Sampling options of the config (its solver, spacing, `clip_sample`,
  `thresholding`) are not used: the job's sampler, grid and final step decide, and no solver clips x0.
- `prediction_type` epsilon / v_prediction / sample is the model's eps / v / x0 prediction (ml/sample/model.py).

`read_config` reads JSON only (the params check it at submit time without importing diffusers);
`load` builds the network.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ml.sample.schedules import VPDiscrete

PREDICTION_TYPES = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}
UNET_CLASSES = ("UNet2DModel", "UNet2DConditionModel")
# conditioning a zero encoder state cannot stand in for: a class label, SDXL's pooled text and size embeddings
NEEDS_INPUTS = ("num_class_embeds", "class_embed_type", "addition_embed_type")


def is_diffusers_folder(path) -> bool:
    p = Path(path)
    return (p / "unet" / "config.json").is_file() and (p / "scheduler" / "scheduler_config.json").is_file()


def _json(path: Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{what}: cannot read {path.name} ({exc})") from None


def read_config(path) -> dict:
    """The model.json-like description of a diffusers folder (arch, prediction, schedule, data_shape)."""
    path = Path(path)
    unet = _json(path / "unet" / "config.json", "unet")
    sched = _json(path / "scheduler" / "scheduler_config.json", "scheduler")
    cls = unet.get("_class_name")
    if cls not in UNET_CLASSES:
        raise ValueError(f"unet: {cls!r} is not supported; sample runs {' and '.join(UNET_CLASSES)}")
    needs = [k for k in NEEDS_INPUTS if unet.get(k) is not None]
    if needs:
        raise ValueError(f"unet: it needs conditioning inputs ({', '.join(needs)}) that an unconditional "
                         "sample cannot give")
    pred = sched.get("prediction_type", "epsilon")
    if pred not in PREDICTION_TYPES:
        raise ValueError(f"scheduler: prediction_type {pred!r} is not supported; known: {tuple(PREDICTION_TYPES)}")
    size = unet.get("sample_size")
    hw = [size, size] if isinstance(size, int) else list(size or [])
    if len(hw) != 2 or not all(isinstance(v, int) and v > 0 for v in hw):
        raise ValueError(f"unet: sample_size {size!r} must be an int or [height, width]")
    return {"arch": f"diffusers.{cls}", "prediction": PREDICTION_TYPES[pred], "schedule": "vp_discrete",
            "data_shape": [int(unet.get("in_channels", 3)), *hw], "prediction_type": pred}


class UNetNet(torch.nn.Module):
    """net(x, t) for the solvers: t is continuous VP time of shape [batch]."""

    def __init__(self, unet, schedule: VPDiscrete, conditional: bool):
        super().__init__()
        self.unet, self.schedule, self.conditional = unet, schedule, conditional
        cfg = unet.config
        # guided-diffusion style "learned sigma": the extra channels are the variance, unused by an ODE
        self.channels = cfg.in_channels if cfg.out_channels == 2 * cfg.in_channels else cfg.out_channels

    def forward(self, x, t, discrete: bool = False):
        """discrete: t is already diffusers' timestep (training calls the integers, as diffusers does; a flag,
        not a second method, so that it passes through DDP's forward)."""
        timestep = t if discrete else self.schedule.discrete_timestep(t)
        if self.conditional:
            ctx = x.new_zeros(x.shape[0], 1, self.unet.config.cross_attention_dim)
            out = self.unet(x, timestep, encoder_hidden_states=ctx).sample
        else:
            out = self.unet(x, timestep).sample
        return out[:, :self.channels]


def load(path, device="cpu") -> tuple[UNetNet, dict, VPDiscrete]:
    """(net in eval mode, config, schedule) of a diffusers folder; float32 weights, no download."""
    import diffusers

    path = Path(path)
    cfg = read_config(path)
    if cfg["data_shape"][0] <= 0:
        raise ValueError("unet: in_channels must be positive")
    schedule = VPDiscrete.from_diffusers(_json(path / "scheduler" / "scheduler_config.json", "scheduler"))
    cls = getattr(diffusers, cfg["arch"].split(".", 1)[1])
    unet_dir = path / "unet"
    if not list(unet_dir.glob("*.safetensors")):
        found = sorted(p.name for p in unet_dir.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        raise ValueError("unet: no .safetensors weights" + (f" ({', '.join(found)} are pickles, never loaded: "
                         "save with save_pretrained(..., safe_serialization=True))" if found else ""))
    try:
        # low_cpu_mem_usage=False: the plain load, which needs no `accelerate` (not a requirement)
        unet = cls.from_pretrained(str(unet_dir), use_safetensors=True, local_files_only=True,
                                   torch_dtype=torch.float32, low_cpu_mem_usage=False)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ValueError(f"unet: diffusers could not load it: {exc}") from None
    cfg["parameters"] = sum(p.numel() for p in unet.parameters())
    net = UNetNet(unet, schedule, conditional=cfg["arch"].endswith("UNet2DConditionModel"))
    return net.to(device).eval(), cfg, schedule
