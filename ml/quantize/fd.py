"""Sample quality of a quantized diffusion/flow model: Frechet distance of ODE samples to the data.

Samples come from the probability-flow ODE with a plain deterministic solver (DDIM, Song et al. 2021,
eq. 12, for VP schedules; Euler on the velocity for rectified flow), started from the same noise for
the fp32 and the quantized model, so the two FDs differ only by the quantization. FD (Heusel et al.
2017) here is between Gaussian fits of the raw samples and of held-out data (no Inception features:
the data are 2-D points or 8x8 digits).
"""
from __future__ import annotations

import torch

from ml.metrics import frechet_distance  # noqa: F401  (re-exported: the FD of this module)


@torch.no_grad()
def sample_ode(model, cfg: dict, noise: torch.Tensor, steps: int = 50) -> torch.Tensor:
    """ODE samples of a diffusion / flow model with the `sample` kind's solvers: DDIM (rectified-flow
    Euler for flows), the same grid before and after quantization."""
    from ml.sample import sample_model

    flow = cfg.get("prediction") == "flow" or cfg.get("schedule") == "flow"
    return sample_model(model, cfg, noise, sampler="rf_euler" if flow else "ddim", nfe=steps)
