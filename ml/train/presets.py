"""Named, complete example params of `train` (ml.params.PRESETS): the form's preset select fills the fields.

"quick demo" runs in seconds on a CPU; "paper config" is bench/bench_train.py's 1-RF on the 8x8 digits
(Liu et al. 2022, the rfpp settings of Lee et al. 2024 are for the reflow that follows it)."""
from ml.data.toys import GMM_PRESET

PRESETS = {
    "quick demo": {
        "objective": "rectified_flow", "data": {"type": "gmm", **GMM_PRESET},
        "steps": 300, "batch_size": 256, "lr": 1e-3, "warmup_steps": 50, "eval_every": 100, "checkpoint_every": 100,
    },
    "paper config": {
        "objective": "rectified_flow", "data": {"type": "digits"}, "arch": "mlp", "width": 512, "depth": 3,
        "batch_size": 256, "warmup_steps": 100, "steps": 8000, "lr": 1e-3,
    },
    "VP diffusion (eps) on digits": {
        "objective": "vp_eps", "data": {"type": "digits"}, "arch": "mlp", "width": 512, "depth": 3,
        "batch_size": 256, "warmup_steps": 100, "steps": 16000, "lr": 1e-3,
    },
}
