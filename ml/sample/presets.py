"""Named, complete example params of `sample` (ml.params.PRESETS): the form's preset select fills the fields.

Both solve the analytic Gaussian mixture, whose exact ODE solution gives the error; "paper config" is
DPM-Solver++(2M) at 20 NFE on the linear VP schedule (Lu et al. 2022b, bench/bench_sample.py's table)."""
from ml.sample.gmm import DEFAULT_MEANS, DEFAULT_STDS, DEFAULT_WEIGHTS

_GMM = {"type": "gmm", "means": DEFAULT_MEANS, "stds": DEFAULT_STDS, "weights": DEFAULT_WEIGHTS}

PRESETS = {
    "quick demo": {"model": _GMM, "schedule": "vp_linear", "sampler": "dpm_solver_pp_2m", "nfe": 10, "n_samples": 1000},
    "paper config": {"model": _GMM, "schedule": "vp_linear", "sampler": "dpm_solver_pp_2m", "nfe": 20,
                     "n_samples": 10000},
}
