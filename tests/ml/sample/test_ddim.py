"""DDIM against diffusers' DDIMScheduler and against the exact ODE."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.sample.ddim import ddim
from ml.sample.gmm import GaussianMixture
from ml.sample.metrics import convergence_order, rmse
from ml.sample.model import Model
from ml.sample.runner import solve
from ml.sample.schedules import VPDiscrete, get_schedule

diffusers = pytest.importorskip("diffusers")


def diffusers_loop(scheduler, mixture, x, acp):
    """The standard diffusers loop on the analytic eps at the scheduler's own integer timesteps."""
    for t in scheduler.timesteps:
        a = acp[int(t)]
        eps, _ = mixture.eps_x0(x, float(np.sqrt(a)), float(np.sqrt(1.0 - a)))
        x = scheduler.step(eps, t, x).prev_sample
    return x


def ours_on_diffusers_grid(fn, scheduler, mixture, x, acp):
    sched = VPDiscrete(acp)
    ts = [(int(t) + 1) / len(acp) for t in scheduler.timesteps] + [0.0]  # DDPM index n <-> t = (n+1)/N
    return fn(Model(mixture.net(sched, "eps"), "eps", sched), x, ts)


@pytest.mark.parametrize("n", [5, 10, 20, 50])
def test_ddim_matches_diffusers_ddim_scheduler(mixture, noise, n):
    s = diffusers.DDIMScheduler(beta_schedule="linear", beta_start=1e-4, beta_end=0.02, timestep_spacing="trailing",
                                set_alpha_to_one=True, clip_sample=False)
    s.set_timesteps(n)
    acp = s.alphas_cumprod.double().numpy()
    ref = diffusers_loop(s, mixture, noise.clone(), acp)
    ours = ours_on_diffusers_grid(ddim, s, mixture, noise.clone(), acp)
    # same algorithm on the same grid: only diffusers' float32 scalars differ (measured <= 6e-7)
    assert (ours - ref).abs().max() < 1e-5


def test_ddim_has_no_hidden_clipping():
    # a point far outside [-1, 1]: diffusers' default clip_sample=True would clamp its x0 estimate
    far = torch.tensor([[5.0, -4.0]], dtype=torch.float64)
    sched = get_schedule("vp_linear")
    g = GaussianMixture([[5.0, -4.0]], [0.1], [1.0])
    x = ddim(Model(g.net(sched, "eps"), "eps", sched), far * sched.alpha(0.5), [0.5, 0.0])
    assert torch.allclose(x, far, atol=1e-2)


def test_ddim_converges_at_first_order(mixture, noise, exact):
    sched = get_schedule("vp_linear")
    ref = exact("vp_linear", 1.0, sched.t_eps)
    errs = {}
    for n in (50, 100, 200):
        x, _ = solve(Model(mixture.net(sched, "eps"), "eps", sched), noise.clone(), "ddim", n, grid="logsnr",
                     final_step="t_eps")
        errs[n] = rmse(x, ref)
    # theory: order 1 (DDIM = Euler in rho); the tolerance 0.3
    assert abs(convergence_order(errs) - 1.0) < 0.3
