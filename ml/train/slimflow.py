"""SlimFlow (Zhu, Liu & Liu, ECCV 2024, "SlimFlow: Training Smaller One-Step Diffusion Models with
Rectified Flow"): a small one-step student of a (2-)rectified-flow teacher, in two stages.

1. Annealing Reflow (sec. 4.1): a small student cannot start from the large teacher's weights, and
   reflow from scratch is hard, so the coupling is annealed from random pairs (plain 1-RF on the
   teacher's outputs) to the teacher's pairs: the noise paired with the teacher output x0(z) is
       z_beta = sqrt(1 - beta^2) z + beta z',   z' ~ N(0, I) independent,   beta: 1 -> 0,
   which keeps z_beta ~ N(0, I) at every beta. Here beta = cos(pi/2 * min(1, 2k / K_anneal)) over the
   first half of the stage, then pure reflow.
2. Flow-Guided Distillation (sec. 4.2): one-step distillation x_hat = z - v_s(z, 1) -> x0(z), plus a
   guidance term from the teacher flow: at a random t the student's own one-step path point
   x_t = z - (1 - t) v_s(z, 1) is finished by one teacher step, x_tilde = x_t - t v_T(x_t, t), and
   x_hat is pulled towards stop-grad(x_tilde). Its gradient compares the student's velocity with the
   teacher's along the student's path, which regularises what plain distillation cannot see.
   (Our reading of the paper's 2-step guidance; the paper also uses LPIPS, not available here.)
"""
from __future__ import annotations

import math

import torch

from ml.train.flow import _bcast, flow_loss, sample_flow_t


def anneal_beta(step, anneal_steps):
    frac = min(1.0, 2.0 * step / max(1, anneal_steps))
    return math.cos(0.5 * math.pi * frac)


def annealing_reflow_loss(net, x0_teacher, z_pair, z_rand, t, beta, distance):
    z_beta = math.sqrt(max(0.0, 1 - beta * beta)) * z_pair + beta * z_rand
    return flow_loss(net, x0_teacher, z_beta, t, distance)


def flow_guided_distill_loss(net, teacher, x0_teacher, z, t, distance, guidance=1.0):
    ones = torch.ones(z.shape[0], device=z.device, dtype=z.dtype)
    v_s = net(z, ones)
    x_hat = z - v_s
    loss = distance(x_hat, x0_teacher)
    if guidance > 0:
        tb = _bcast(t, z)
        with torch.no_grad():
            x_t = z - (1 - tb) * v_s
            x_tilde = x_t - tb * teacher(x_t, t)
        loss = loss + guidance * distance(x_hat, x_tilde)
    return loss


__all__ = ["anneal_beta", "annealing_reflow_loss", "flow_guided_distill_loss", "sample_flow_t"]
