"""Lion optimiser: Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2.

    c_t     = beta1 * m_{t-1} + (1 - beta1) * g_t
    theta_t = theta_{t-1} - lr * (sign(c_t) + wd * theta_{t-1})
    m_t     = beta2 * m_{t-1} + (1 - beta2) * g_t

Only the momentum m is stored (half AdamW's state). The update has unit size per
coordinate, so the paper advises a 3-10x smaller lr and a 3-10x larger wd than AdamW.
"""
from __future__ import annotations

import torch


class Lion(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        if lr <= 0:
            raise ValueError("lr must be > 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(p)
                m = state["exp_avg"]
                c = m.mul(beta1).add_(p.grad, alpha=1 - beta1)
                p.mul_(1 - lr * wd)  # decoupled decay uses theta_{t-1}, as in the algorithm
                p.add_(torch.sign(c), alpha=-lr)
                m.mul_(beta2).add_(p.grad, alpha=1 - beta2)
        return loss
