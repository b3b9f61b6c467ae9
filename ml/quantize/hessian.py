"""The layer objective shared by GPTQ, decoupleQ and NUPES.

For a linear layer with calibration inputs X (n x in), the output error of a quantized weight W_hat is
||X W^T - X W_hat^T||_F^2 / n = tr((W - W_hat) H (W - W_hat)^T) with H = X^T X / n (GPTQ, Frantar et al.
2023, eq. 1; decoupleQ, Guo et al. 2024, eq. 2). Every output row shares H, so rows are independent.
"""
from __future__ import annotations

import torch


def hessian(inputs: torch.Tensor) -> torch.Tensor:
    """H = X^T X / n in float64 (accumulating in fp32 loses the small eigenvalues GPTQ's Cholesky needs)."""
    x = inputs.detach().reshape(-1, inputs.shape[-1]).double()
    return x.T @ x / max(1, x.shape[0])


def damp(H: torch.Tensor, percdamp: float = 0.01) -> torch.Tensor:
    """H + lambda I with lambda = percdamp * mean(diag H) (GPTQ's damping, also decoupleQ's); dead inputs get 1."""
    H = H.clone().double()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1.0
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(H.shape[0], dtype=H.dtype)
    return H


def row_loss(W: torch.Tensor, W_hat: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Per-row objective e_r H e_r^T, [out], in H's precision."""
    E = (W - W_hat).to(H.dtype)
    return ((E @ H) * E).sum(1)


def relative_output_error(W: torch.Tensor, W_hat: torch.Tensor, H: torch.Tensor) -> float:
    """||X (W - W_hat)^T||_F / ||X W^T||_F, computed from H alone."""
    num = row_loss(W, W_hat, H).sum()
    den = row_loss(W, torch.zeros_like(W), H).sum()
    return float((num / den.clamp(min=1e-300)).sqrt())
