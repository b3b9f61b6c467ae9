"""Error measures of samples against the exact ODE and the exact data (tests and benchmark share them)."""
from __future__ import annotations

import math

import numpy as np

from ml.metrics import sliced_w2  # noqa: F401  (re-exported for the runner)
import torch


def rmse(a, b) -> float:
    """Root mean over samples of the squared Euclidean error, sqrt(mean_i |a_i - b_i|^2)."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).reshape(len(a), -1).pow(2).sum(-1).mean().sqrt())


def convergence_order(errors: dict) -> float:
    """Least-squares slope of -log(error) against log(NFE): the measured order of convergence."""
    n = np.log(np.array(list(errors.keys()), dtype=float))
    e = np.log(np.array(list(errors.values()), dtype=float))
    return float(-np.polyfit(n, e, 1)[0])
