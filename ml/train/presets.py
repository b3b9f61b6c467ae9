"""Named, complete example params of `train` (ml.params.PRESETS): the form's preset select fills the fields.

"quick demo" runs in seconds on a CPU; "paper config" is bench/bench_train.py's 1-RF on the 8x8 digits
(Liu et al. 2022, the rfpp settings of Lee et al. 2024 are for the reflow that follows it)."""
from ml.data.toys import GMM_PRESET

PRESETS = {
    "quick demo": {
        "objective": "rectified_flow", "data": {"type": "gmm", **GMM_PRESET}, "width": 128, "depth": 2,
        "steps": 200, "batch_size": 128, "lr": 1e-3, "warmup_steps": 20, "eval_every": 100, "checkpoint_every": 100,
        "eval_samples": 256, "ref_nfe": 50,
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
