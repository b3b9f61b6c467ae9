"""Named example params of `finetune` (ml.params.PRESETS): the form's preset select fills the fields. The
three models (`model`, `reward`, `eval_reward`) are the user's to choose, so no preset names them.

"paper config" is DRAKES as the authors run it on the enhancer task (Wang et al. 2024, finetune_reward_bp.py:
alpha 1e-3, the last K = 50 of 128 steps relaxed, 1000 Adam steps at lr 1e-4 of 32 x 4 trajectories, 640
samples scored); "quick demo" bench/bench_drakes.py's small config, minutes on a CPU."""

PRESETS = {
    "quick demo": {"method": "drakes", "alpha": 0.025, "truncate_steps": 12, "sampling_steps": 32, "steps": 64,
                   "batch_size": 16, "grad_accum": 1, "lr": 2e-3, "eval_every": 0, "checkpoint_every": 0,
                   "n_samples": 256},
    "paper config": {"method": "drakes", "alpha": 1e-3, "truncate_steps": 50, "temperature": 1.0, "sampling_steps": 128,
                     "steps": 1000, "batch_size": 32, "grad_accum": 4, "lr": 1e-4, "grad_clip": 1.0, "kl": "repo",
                     "truncate_kl": False, "n_samples": 640},
    "best-of-N baseline": {"method": "best_of_n", "best_of_n": 16, "sampling_steps": 128, "n_samples": 640},
}
