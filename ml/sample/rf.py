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


def rf_heun(model, x, ts, orders, callback=None):
    """Heun's method on dx/dt = v(x, t) (Karras et al. 2022, Algorithm 1 in the flow's own time; the
    sampler rectified-flow papers report beside Euler, e.g. Lee et al. 2024, "rfpp", sec. 5):
        x' = x_i + (t_{i+1} - t_i) v_i;  x_{i+1} = x_i + (t_{i+1} - t_i) (v_i + v(x', t_{i+1})) / 2,
    2 NFE; steps with orders[i] == 1 are Euler steps (the step into t = 0 with final_step="denoise", and a
    spare NFE of an even budget), as in `heun`.
    """
    for i, k in enumerate(orders):
        dt = ts[i + 1] - ts[i]
        v = model.velocity(x, ts[i])
        x_next = lincomb(1.0, x, dt, v)
        if k == 2:
            x_next = lincomb(1.0, x, 0.5 * dt, v, 0.5 * dt, model.velocity(x_next, ts[i + 1]))
        x = x_next
        if callback is not None:
            callback(i, x)
    return x
