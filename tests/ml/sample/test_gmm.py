"""The analytic mixture: eps* is the true scaled score, x0* the posterior mean, samples follow p_0."""
from __future__ import annotations

import torch

from ml.sample.gmm import GaussianMixture
from ml.sample.gmm_net import MixtureModule
from ml.sample.schedules import get_schedule


def _log_marginal(g, x, alpha, sigma):
    var = alpha ** 2 * g.stds ** 2 + sigma ** 2
    diff = x[:, None, :] - alpha * g.means[None]
    comp = g.weights.log() - 0.5 * g.dim * torch.log(2 * torch.pi * var) - 0.5 * diff.pow(2).sum(-1) / var
    return torch.logsumexp(comp, dim=1)


def test_eps_is_minus_sigma_times_the_score_of_the_noisy_marginal(mixture, noise):
    for alpha, sigma in [(0.99, 0.14), (0.6, 0.8), (0.05, 0.9987)]:
        x = (alpha * noise + 0.3).requires_grad_(True)
        score = torch.autograd.grad(_log_marginal(mixture, x, alpha, sigma).sum(), x)[0]
        eps, x0 = mixture.eps_x0(x.detach(), alpha, sigma)
        # same quantity by autograd of the log density: float64 rounding only
        torch.testing.assert_close(eps, -sigma * score, rtol=1e-10, atol=1e-10)
        # Tweedie: E[x | x_t] = x_t, i.e. x_t = alpha x0* + sigma eps* exactly
        torch.testing.assert_close(alpha * x0 + sigma * eps, x.detach(), rtol=1e-10, atol=1e-10)


def test_endpoints_are_finite():
    g = GaussianMixture([[1.0, 0.0], [-1.0, 0.0]], [0.2, 0.3], [0.5, 0.5])
    x = torch.randn(16, 2, dtype=torch.float64)
    eps, x0 = g.eps_x0(x, 1.0, 0.0)       # t = 0: no noise
    assert torch.equal(eps, torch.zeros_like(x)) and torch.allclose(x0, x)
    eps, x0 = g.eps_x0(x, 0.0, 1.0)       # flow t = 1: pure noise, x0* is the data mean
    assert torch.allclose(eps, x) and torch.allclose(x0, torch.zeros_like(x) + g.weights @ g.means)


def test_exact_samples_have_the_mixture_moments(mixture):
    x = mixture.sample(200_000, torch.Generator().manual_seed(0))
    mean = mixture.weights @ mixture.means
    second = (mixture.weights[:, None] * (mixture.means ** 2 + mixture.stds[:, None] ** 2)).sum(0)
    # Monte-Carlo error of a mean over 2e5 draws with variance < 4: 5 sigma = 5 * 2 / sqrt(2e5) ~ 0.022
    assert (x.mean(0) - mean).abs().max() < 0.03
    assert (x.pow(2).mean(0) - second).abs().max() < 0.1


def test_the_module_form_agrees_with_the_analytic_form(mixture):
    spec = dict(means=mixture.means.tolist(), stds=mixture.stds.tolist(), weights=mixture.weights.tolist())
    x = torch.randn(8, 2, dtype=torch.float64)
    for sched_name, t in [("vp_linear", 0.3), ("vp_cosine", 0.7), ("edm", 2.5), ("flow", 0.4)]:
        sched = get_schedule(sched_name)
        for pred in ("eps", "x0", "v", "flow"):
            mod = MixtureModule(**spec, schedule=sched_name, prediction=pred).double()
            out = mod(x, torch.full((8,), t, dtype=torch.float64))
            ref = mixture.net(sched, pred)(x, t)
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)  # buffers are float32-rounded (rel. 6e-8, amplified)
