"""A small random diffusers UNet saved as a `sample` model folder (unet/ + scheduler/), as users upload them."""
from __future__ import annotations

import math
from pathlib import Path

import torch


def smooth_in_time(unet, max_freq: float = 0.01) -> None:
    """Zero the time-embedding weights of sinusoidal features faster than `max_freq` rad per timestep.

    diffusers' embedding always holds frequency 1 (a period of 6 timesteps); a trained UNet learns to be
    smooth in t, a random one is not, and no solver with fewer than ~200 steps resolves such a network.
    Kept: frequencies <= 0.01, at most 10 rad over the 1000 timesteps, so the ODE is as smooth as a trained
    model's and the convergence orders show at tens of steps."""
    proj = unet.time_proj
    half = proj.num_channels // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half) / (half - proj.downscale_freq_shift))
    fast = torch.cat([freqs, freqs]) > max_freq   # the two halves are cos and sin (or sin and cos) of one list
    with torch.no_grad():
        unet.time_embedding.linear_1.weight[:, fast] = 0.0


def make_unet_folder(root, prediction_type="epsilon", conditional=False, channels=1, seed=0, **betas) -> Path:
    """root/unet (tiny UNet2DModel or UNet2DConditionModel, safetensors) + root/scheduler (DDIMScheduler)."""
    import diffusers

    root = Path(root)
    torch.manual_seed(seed)
    common = dict(sample_size=8, in_channels=channels, out_channels=channels, layers_per_block=1,
                  block_out_channels=(8, 16), norm_num_groups=4)
    if conditional:
        unet = diffusers.UNet2DConditionModel(
            **common, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=8, attention_head_dim=4)
    else:
        unet = diffusers.UNet2DModel(**common, down_block_types=("DownBlock2D", "DownBlock2D"),
                                     up_block_types=("UpBlock2D", "UpBlock2D"))
    smooth_in_time(unet)
    unet.save_pretrained(root / "unet", safe_serialization=True)
    diffusers.DDIMScheduler(prediction_type=prediction_type, **betas).save_pretrained(root / "scheduler")
    return root
