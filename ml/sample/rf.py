"""Rectified-flow Euler."""
from __future__ import annotations

from ml.sample.model import lincomb


def rf_euler(model, x, ts, callback=None):
    """Euler on dx/dt = v(x, t) (Liu, Gong & Liu, ICLR 2023, "Flow Straight and Fast", sec. 2:
    z_{t+1/N} = z_t + v(z_t, t) / N; here in the diffusers direction t: 1 -> 0, x_t = (1-t) x_0 + t z).
    For a flow model v is its raw output; other prediction types are converted to dx/dt. 1 NFE per step.
    """
    for i in range(len(ts) - 1):
        x = lincomb(1.0, x, ts[i + 1] - ts[i], model.velocity(x, ts[i]))
        if callback is not None:
            callback(i, x)
    return x
