"""Dilated residual CNN over DNA, the backbone of DRAKES's masked diffusion model.

After Stark et al., "Dirichlet Flow Matching" (ICML 2024), `CNNModel`, as used by DRAKES
(models/dnaconv.py): Conv1d(in -> h, k=9), residual blocks (LayerNorm, ReLU, dilated Conv1d k=9) with
dilations cycling 1, 1, 4, 16, 64 (20 layers in the paper = 8 at dilation 1, 4 each at 4, 16, 64),
then a 1x1 head. Input is a probability vector per position (one-hot or soft, the 4 bases + MASK),
which the Gumbel-softmax relaxation of DRAKES needs. No time input: MDLM's absorbing-state model with
`time_conditioning: False`. `n_classes` > 0 adds a class embedding (with a null class) for
classifier-free guidance.
"""
from __future__ import annotations

import torch
from torch import nn

DILATIONS = (1, 1, 4, 16, 64)


class DnaConv(nn.Module):
    def __init__(self, vocab: int = 5, width: int = 128, depth: int = 20, kernel: int = 9, n_classes: int = 0):
        super().__init__()
        self.inp = nn.Conv1d(vocab, width, kernel, padding=kernel // 2)
        self.convs = nn.ModuleList(
            SameDilatedConv1d(width, width, kernel, dilation=d, padding=d * (kernel // 2))
            for d in (DILATIONS[i % len(DILATIONS)] for i in range(depth)))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))
        self.head = nn.Sequential(nn.Conv1d(width, width, 1), nn.ReLU(), nn.Conv1d(width, vocab, 1))
        self.n_classes = n_classes
        if n_classes:
            self.cls = nn.Embedding(n_classes + 1, width)   # last index = null class
            nn.init.zeros_(self.cls.weight)                 # starts as the unconditional model

    def forward(self, x: torch.Tensor, label: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, L, vocab] probabilities -> logits [B, L, vocab]."""
        h = torch.relu(self.inp(x.transpose(1, 2)))
        if self.n_classes:
            if label is None:
                label = torch.full((x.shape[0],), self.n_classes, dtype=torch.long, device=x.device)
            h = h + self.cls(label)[:, :, None]
        for conv, norm in zip(self.convs, self.norms):
            z = norm(h.transpose(1, 2)).transpose(1, 2)
            h = h + torch.relu(conv(z))
        return self.head(h).transpose(1, 2)


class SameDilatedConv1d(nn.Conv1d):
    """A 'same'-padded dilated conv that drops the taps which can only ever see padding (dilation 64 on
    a 32-long sequence): identical output, and no convolution over 16x more zeros than bases. Still a
    called module, so forward hooks (quantization's calibration) see its inputs."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        k, d, L = self.kernel_size[0], self.dilation[0], z.shape[-1]
        j = min(k // 2, (L - 1) // d)
        if j == k // 2:
            return super().forward(z)
        w = self.weight[:, :, k // 2 - j:k // 2 + j + 1]
        return torch.nn.functional.conv1d(z, w, self.bias, padding=j * d, dilation=d)


def dnaconv(vocab: int = 5, width: int = 128, depth: int = 20, kernel: int = 9, n_classes: int = 0) -> DnaConv:
    return DnaConv(vocab, width, depth, kernel, n_classes)
