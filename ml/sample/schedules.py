"""Noise schedules x_t = alpha_t x_0 + sigma_t eps: the one place they are defined, for every kind.

Every solver only needs alpha_t, sigma_t, lambda_t = log(alpha_t / sigma_t) (half log-SNR),
rho_t = sigma_t / alpha_t (the "VE sigma" of k-diffusion / EDM), the inverse t(lambda),
and, for plain Euler in x, the derivatives alpha'_t, sigma'_t.

- `vp_linear`: continuous-time VP of Song et al. 2021 with beta(t) = 0.1 + 19.9 t, i.e. DDPM's
  betas 1e-4..0.02 over 1000 steps; log alpha_t = -(b1 - b0) t^2 / 4 - b0 t / 2 (DPM-Solver eq. 21).
- `vp_cosine`: Nichol & Dhariwal's cosine schedule in continuous time, s = 0.008; as in DPM-Solver
  (appendix D) it stops at T = 0.9946 because alpha_t -> 0 (lambda -> -inf) at t = 1.
- `edm`: Karras et al. 2022 (VE): alpha = 1, sigma = t, t in [0.002, 80].
- `flow`: rectified flow / flow matching, x_t = (1 - t) x_0 + t z (diffusers' convention).
- `VPDiscrete(alphas_cumprod)`: a DDPM table read as continuous time t = (n + 1) / N with
  log alpha interpolated piecewise-linearly, as DPM-Solver's NoiseScheduleVP('discrete') does, plus
  the point (t = 0, alpha = 1); used to compare with diffusers on its own integer timesteps, and the
  schedule of a diffusers model (`VPDiscrete.from_diffusers(scheduler_config)`), whose network is called
  at the discrete timestep t N - 1 (`discrete_timestep`), as DPM-Solver's model_wrapper does.

One formula per schedule serves Python floats and tensors (`_lib` picks `math` or `torch`): the
solvers precompute their coefficients as floats before the loop, so a step on CUDA never waits for
the host; training (`ml/train/vp.py`), quantize's calibration and the exact mixture network
(`gmm_net.py`) evaluate the same formulas on a tensor of per-sample times. The inverses (t_of_lambda,
t_of_rho) and `VPDiscrete` are float-only: only the solvers' grids need them.
"""
from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np
import torch


def _lib(t):
    """`math` for a Python float, `torch` for a tensor."""
    return torch if isinstance(t, torch.Tensor) else math


def _const(t, value: float):
    """`value` shaped like t (a float for a float)."""
    return torch.full_like(t, value) if isinstance(t, torch.Tensor) else value


class Schedule:
    name = "base"
    t_max = 1.0      # where sampling starts (the noise x_T lives here)
    t_min = 0.0      # where the ODE ends (the data); alpha(t_min)/sigma(t_min) may be 0
    t_eps = 1e-3     # last positive time of grids that cannot reach t_min (logSNR, Karras)

    def log_alpha(self, t: float) -> float:
        raise NotImplementedError

    def alpha(self, t):
        return _lib(t).exp(self.log_alpha(t))

    def sigma(self, t):
        # sqrt(-expm1(2 log alpha)) keeps precision near t = 0 where 1 - alpha^2 cancels
        one_minus_alpha2 = -_lib(t).expm1(2.0 * self.log_alpha(t))
        if isinstance(t, torch.Tensor):
            return one_minus_alpha2.clamp_min(0.0).sqrt()
        return math.sqrt(max(one_minus_alpha2, 0.0))

    def alpha_sigma(self, t):
        return self.alpha(t), self.sigma(t)

    def lambda_(self, t: float) -> float:
        s = self.sigma(t)
        return math.inf if s == 0.0 else self.log_alpha(t) - math.log(s)

    def rho(self, t: float) -> float:
        return self.sigma(t) / self.alpha(t)

    def t_of_lambda(self, lam: float) -> float:
        raise NotImplementedError

    def t_of_rho(self, rho: float) -> float:
        return self.t_min if rho <= 0.0 else self.t_of_lambda(-math.log(rho))

    def t_of_rho_array(self, rho: np.ndarray) -> np.ndarray:
        """t(rho) for an array (quadrature nodes of DEIS); schedules override with numpy closed forms."""
        return np.array([self.t_of_rho(r) for r in rho.tolist()])

    def d_alpha(self, t: float) -> float:
        """d alpha / dt, by a central difference of log alpha (schedules override with closed forms)."""
        h = 1e-6
        return self.alpha(t) * (self.log_alpha(t + h) - self.log_alpha(t - h)) / (2 * h)

    def d_sigma(self, t: float) -> float:
        # VP: alpha^2 + sigma^2 = 1  =>  sigma' = -alpha alpha' / sigma
        return -self.alpha(t) * self.d_alpha(t) / self.sigma(t)


class VPLinear(Schedule):
    name = "vp_linear"

    def __init__(self, beta_0: float = 0.1, beta_1: float = 20.0):
        self.beta_0, self.beta_1 = beta_0, beta_1

    def log_alpha(self, t):
        # -(1/2) int_0^t beta; this grouping is the one training has always used, so its float32 figures hold
        return -0.5 * (self.beta_0 * t + 0.5 * (self.beta_1 - self.beta_0) * t * t)

    def d_alpha(self, t):
        return self.alpha(t) * (-0.5 * t * (self.beta_1 - self.beta_0) - 0.5 * self.beta_0)

    def t_of_rho_array(self, rho):
        log_alpha = -0.5 * np.log1p(rho * rho)     # alpha = 1 / sqrt(1 + rho^2)
        db = self.beta_1 - self.beta_0
        return -2.0 * log_alpha / (0.5 * self.beta_0 + np.sqrt(0.25 * self.beta_0 ** 2 - db * log_alpha))

    def t_of_lambda(self, lam):
        # log alpha = -1/2 log(1 + e^{-2 lambda}); then solve the quadratic in t (DPM-Solver appendix)
        log_alpha = -0.5 * _log1pexp(-2.0 * lam)
        db = self.beta_1 - self.beta_0
        # positive root of (db/4) t^2 + (b0/2) t + log_alpha = 0, in the cancellation-free form
        return -2.0 * log_alpha / (0.5 * self.beta_0 + math.sqrt(0.25 * self.beta_0 ** 2 - db * log_alpha))


class VPCosine(Schedule):
    name = "vp_cosine"
    t_max = 0.9946

    def __init__(self, s: float = 0.008):
        self.s = s
        self._log_alpha_0 = math.log(math.cos(s / (1.0 + s) * math.pi / 2.0))

    def log_alpha(self, t):
        # defined on [0, t_max]; at t = 1 the cosine is 0 (and rounds negative in float32)
        m = _lib(t)
        return m.log(m.cos((t + self.s) / (1.0 + self.s) * math.pi / 2.0)) - self._log_alpha_0

    def d_alpha(self, t):
        u = (t + self.s) / (1.0 + self.s) * math.pi / 2.0
        return -_lib(t).sin(u) * math.pi / (2.0 * (1.0 + self.s)) / math.exp(self._log_alpha_0)

    def t_of_lambda(self, lam):
        log_alpha = -0.5 * _log1pexp(-2.0 * lam)
        return 2.0 * (1.0 + self.s) / math.pi * math.acos(math.exp(log_alpha + self._log_alpha_0)) - self.s


class EDM(Schedule):
    name = "edm"
    t_max = 80.0
    t_min = 0.0
    t_eps = 0.002

    def log_alpha(self, t):
        return _const(t, 0.0)

    def alpha(self, t):
        return _const(t, 1.0)

    def sigma(self, t):
        return t if isinstance(t, torch.Tensor) else float(t)

    def d_alpha(self, t):
        return _const(t, 0.0)

    def d_sigma(self, t):
        return _const(t, 1.0)

    def t_of_lambda(self, lam):
        return math.exp(-lam)

    def t_of_rho_array(self, rho):
        return np.asarray(rho, dtype=np.float64)


class Flow(Schedule):
    name = "flow"
    t_max = 1.0
    t_eps = 1e-3

    def log_alpha(self, t):
        if isinstance(t, torch.Tensor):
            return torch.log1p(-t)
        return math.log1p(-t) if t < 1.0 else -math.inf

    def alpha(self, t):
        return 1.0 - t

    def sigma(self, t):
        return t if isinstance(t, torch.Tensor) else float(t)

    def lambda_(self, t):
        if t <= 0.0:
            return math.inf
        return -math.inf if t >= 1.0 else math.log1p(-t) - math.log(t)

    def rho(self, t):
        return math.inf if t >= 1.0 else t / (1.0 - t)

    def d_alpha(self, t):
        return _const(t, -1.0)

    def d_sigma(self, t):
        return _const(t, 1.0)

    def t_of_lambda(self, lam):
        # lambda = log((1 - t) / t)  =>  t = sigmoid(-lambda)
        return 1.0 / (1.0 + math.exp(lam)) if lam > -700 else 1.0

    def t_of_rho_array(self, rho):
        return rho / (1.0 + rho)


class VPDiscrete(Schedule):
    name = "vp_discrete"

    def __init__(self, alphas_cumprod):
        acp = [float(a) for a in alphas_cumprod]
        n = len(acp)
        self.n = n
        self.t_eps = 1.0 / n   # the first table node, diffusers' timestep 0 (1e-3 for the usual N = 1000)
        self.ts = [0.0] + [(i + 1) / n for i in range(n)]
        self.log_alphas = [0.0] + [0.5 * math.log(a) for a in acp]
        self.lambdas = [math.inf] + [la - 0.5 * math.log(-math.expm1(2 * la)) for la in self.log_alphas[1:]]

    @classmethod
    def from_diffusers(cls, config: dict) -> "VPDiscrete":
        """The table of a diffusers scheduler config (scheduler_config.json): its betas (`beta_schedule`
        linear, scaled_linear, squaredcos_cap_v2, sigmoid, or `trained_betas`) computed by diffusers'
        own DDPMScheduler, so the alphas_cumprod are bit for bit those its schedulers use (float32)."""
        from diffusers import DDPMScheduler

        if config.get("rescale_betas_zero_snr"):
            raise ValueError("scheduler: rescale_betas_zero_snr (zero terminal SNR) is not supported: alpha_T = 0 "
                             "there, and the solvers start from x_T = alpha_T x_0 + sigma_T eps with alpha_T > 0")
        keys = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas")
        try:
            table = DDPMScheduler(**{k: config[k] for k in keys if config.get(k) is not None})
        except NotImplementedError:
            raise ValueError(f"scheduler: beta_schedule {config.get('beta_schedule')!r} is not one diffusers "
                             "knows (linear, scaled_linear, squaredcos_cap_v2, sigmoid, or trained_betas)") from None
        acp = table.alphas_cumprod.double().numpy()
        if not (np.all(np.isfinite(acp)) and np.all(acp > 0.0) and np.all(np.diff(acp) < 0.0)):
            raise ValueError("scheduler: its betas do not give a decreasing alphas_cumprod in (0, 1]: each beta "
                             "must lie in (0, 1)")
        return cls(acp)

    def discrete_timestep(self, t):
        """The network's input timestep for continuous time t: t_n = (n + 1) / N <-> n = t N - 1 (DPM-Solver's
        model_wrapper for 'discrete' schedules); fractional between nodes, as the sinusoidal embedding allows."""
        return t * self.n - 1.0

    def log_alpha(self, t):
        return _interp(t, self.ts, self.log_alphas)

    def t_of_lambda(self, lam):
        # lambdas decrease with t; interpolate lambda -> t on the table (as DPM-Solver's inverse_lambda)
        ts, lams = self.ts[1:], self.lambdas[1:]
        if lam >= lams[0]:
            return ts[0]
        rev = lams[::-1]
        j = bisect_right(rev, lam)
        j = min(max(j, 1), len(rev) - 1)
        lo, hi = len(ts) - j, len(ts) - j - 1   # rev[j-1] <= lam < rev[j]
        w = (lam - lams[lo]) / (lams[hi] - lams[lo])
        return ts[lo] + w * (ts[hi] - ts[lo])

    def t_of_rho_array(self, rho):
        # lambda = -log rho, interpolated on the table like t_of_lambda (np.interp needs increasing x)
        lam = -np.log(np.maximum(rho, 1e-300))
        ts, lams = np.array(self.ts[1:]), np.array(self.lambdas[1:])
        t = np.interp(lam, lams[::-1], ts[::-1])
        return np.where(rho <= 0.0, 0.0, t)


def _interp(t, xs, ys):
    j = min(max(bisect_right(xs, t), 1), len(xs) - 1)
    w = (t - xs[j - 1]) / (xs[j] - xs[j - 1])
    return ys[j - 1] + w * (ys[j] - ys[j - 1])


def _log1pexp(z: float) -> float:
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


SCHEDULES = {"vp_linear": VPLinear, "vp_cosine": VPCosine, "edm": EDM, "flow": Flow}


def get_schedule(name: str) -> Schedule:
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {sorted(SCHEDULES)}")
    return SCHEDULES[name]()
