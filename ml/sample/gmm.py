"""The analytic Gaussian mixture: exact eps / x0 / velocity for any schedule, and exact samples.

Data x_0 ~ sum_k w_k N(mu_k, s_k^2 I) in d dimensions. Under x_t = alpha x_0 + sigma eps the marginal
is again a mixture, with means alpha mu_k and variances v_k = alpha^2 s_k^2 + sigma^2, so with the
responsibilities r_k(x) = softmax_k(log w_k - d/2 log v_k - |x - alpha mu_k|^2 / (2 v_k)):

    eps*(x, t) = -sigma grad log p_t(x) = sigma sum_k r_k (x - alpha mu_k) / v_k
    x0*(x, t)  = E[x_0 | x_t] = sum_k r_k (mu_k + alpha s_k^2 (x - alpha mu_k) / v_k)

(Tweedie's formula per component). Both forms are kept exact at the ends: eps* -> 0 as sigma -> 0,
and x0* stays finite as alpha -> 0, so no conversion divides by zero. This is the ground truth of the
solver tests; `ml.sample.exact` solves its ODE again with scipy, sharing no code with this file.
"""
from __future__ import annotations

import torch

from ml.sample.model import from_eps_x0

# a default 2-D mixture: 6 components on / inside a radius-2 ring, unequal std and weight
DEFAULT_MEANS = [[2.0, 0.0], [1.0, 1.7320508], [-1.0, 1.7320508], [-2.0, 0.0], [-1.0, -1.7320508], [0.5, -0.5]]
DEFAULT_STDS = [0.05, 0.1, 0.2, 0.3, 0.15, 0.25]
DEFAULT_WEIGHTS = [0.25, 0.1, 0.2, 0.15, 0.2, 0.1]


class GaussianMixture:
    """Isotropic Gaussian mixture with exact posterior quantities at every noise level."""

    def __init__(self, means, stds, weights, dtype=torch.float64, device="cpu"):
        self.means = torch.as_tensor(means, dtype=dtype, device=device)
        if self.means.ndim != 2:
            raise ValueError("means must be a [K, d] list")
        k = self.means.shape[0]
        self.stds = torch.as_tensor(stds, dtype=dtype, device=device).reshape(k)
        w = torch.as_tensor(weights, dtype=dtype, device=device).reshape(k)
        self.weights = w / w.sum()
        self.dim = self.means.shape[1]

    def to(self, dtype=None, device=None):
        return GaussianMixture(self.means.to(dtype=dtype, device=device), self.stds.to(dtype=dtype, device=device),
                               self.weights.to(dtype=dtype, device=device))

    def eps_x0(self, x: torch.Tensor, alpha: float, sigma: float):
        """(eps*, x0*) at a noise level given by Python floats alpha, sigma; x is [n, d]."""
        mu = alpha * self.means                                     # [K, d]
        var = alpha * alpha * self.stds ** 2 + sigma * sigma        # [K]
        diff = x[:, None, :] - mu[None]                             # [n, K, d]
        logits = (self.weights.log() - 0.5 * self.dim * var.log())[None] - 0.5 * diff.pow(2).sum(-1) / var[None]
        r = torch.softmax(logits, dim=1)                            # [n, K]
        scaled = diff / var[None, :, None]                          # (x - alpha mu_k) / v_k
        eps = sigma * torch.einsum("nk,nkd->nd", r, scaled)
        x0 = r @ self.means + alpha * torch.einsum("nk,nkd->nd", r * self.stds[None] ** 2, scaled)
        return eps, x0

    def sample(self, n: int, generator=None) -> torch.Tensor:
        """Exact data samples x_0 ~ p_0."""
        dev = self.means.device
        k = torch.multinomial(self.weights.float().cpu(), n, replacement=True, generator=generator).to(dev)
        z = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype, device=generator.device if generator else dev)
        return self.means[k] + self.stds[k, None] * z.to(dev)

    def net(self, schedule, prediction: str = "eps"):
        """The mixture as a network of the given prediction type: net(x, t) with t a Python float."""
        return MixtureNet(self, schedule, prediction)


class MixtureNet:
    """Callable net(x, t) -> prediction of the exact mixture. `scalar_t` tells `Model` to pass t as a
    Python float: the analytic model needs alpha_t, sigma_t, which are host maths, and reading them
    back from a tensor would be a device sync."""

    scalar_t = True

    def __init__(self, gmm: GaussianMixture, schedule, prediction: str):
        self.gmm, self.schedule, self.prediction = gmm, schedule, prediction

    def __call__(self, x: torch.Tensor, t: float) -> torch.Tensor:
        s = self.schedule
        alpha, sigma = s.alpha(t), s.sigma(t)
        shape = x.shape
        eps, x0 = self.gmm.eps_x0(x.reshape(shape[0], -1), alpha, sigma)
        out = from_eps_x0(self.prediction, eps, x0, alpha, sigma, s.d_alpha(t), s.d_sigma(t))
        return out.reshape(shape)
