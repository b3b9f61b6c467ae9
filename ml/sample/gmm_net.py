"""The exact mixture as an `nn.Module` net(x, t) with the project's model-file convention.

A stand-in for a trained network whose answer is known exactly: saved with `ml.modelio.save_model`
(arch "gmm_exact"), it travels the whole artifact path (model.safetensors + model.json -> load -> sample)
and the samples can still be checked against the exact ODE. t is a float tensor [batch], one noise level
per sample, so alpha_t, sigma_t and their derivatives are the schedule's tensor forms.
"""
from __future__ import annotations

import torch
from torch import nn

from ml.sample.model import from_eps_x0
from ml.sample.schedules import get_schedule


class MixtureModule(nn.Module):
    def __init__(self, means, stds, weights, schedule="vp_linear", prediction="eps", data_shape=None):
        super().__init__()
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.register_buffer("stds", torch.as_tensor(stds, dtype=torch.float32))
        w = torch.as_tensor(weights, dtype=torch.float32)
        self.register_buffer("weights", w / w.sum())
        self.schedule, self.prediction = schedule, prediction
        self._schedule = get_schedule(schedule)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(shape[0], -1)
        t, sch = t.to(x.dtype), self._schedule
        a, s, da, ds = (v[:, None] for v in (sch.alpha(t), sch.sigma(t), sch.d_alpha(t), sch.d_sigma(t)))
        means, var0 = self.means.to(x.dtype), self.stds.to(x.dtype) ** 2
        var = a * a * var0[None] + s * s                                    # [n, K]
        diff = x[:, None, :] - a[:, :, None] * means[None]                  # [n, K, d]
        logits = self.weights.to(x.dtype).log()[None] - 0.5 * x.shape[1] * var.log() - 0.5 * diff.pow(2).sum(-1) / var
        r = torch.softmax(logits, dim=1)
        scaled = diff / var[:, :, None]
        eps = s * torch.einsum("nk,nkd->nd", r, scaled)
        x0 = r @ means + a * torch.einsum("nk,nkd->nd", r * var0[None], scaled)
        return from_eps_x0(self.prediction, eps, x0, a, s, da, ds).reshape(shape)


def gmm_exact(means, stds, weights, schedule="vp_linear", prediction="eps", data_shape=None):
    return MixtureModule(means, stds, weights, schedule, prediction, data_shape)
