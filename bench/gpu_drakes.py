"""GPU check of the DRAKES pipeline: the "standard" config of bench_drakes.py (default task, L=200) on CUDA.

Trains the MDLM and both oracles, then runs every method, DRAKES / best-of-N / CG at three oracle budgets
(2.5k, 10k, 41k calls for 640 samples); prints the wall time and the table, and writes bench/results/drakes.json
(the table on the default task). Expected about 10-15 minutes on one recent GPU, mostly DRAKES's 2 x 1,680
optimizer steps (an estimate: no session with this config has had a GPU yet). On 2 CPU cores the smallest
budget alone (bench_drakes.py standard_cpu) took 50 minutes, 27 of them training the three models.
Usage: python bench/gpu_drakes.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_drakes  # noqa: E402


def main():
    if not torch.cuda.is_available():
        print("no CUDA device: this check is for a GPU machine (bench_drakes.py smoke runs on CPU)")
        return 1
    torch.backends.cudnn.benchmark = True
    t0 = time.time()
    rows = bench_drakes.main(["standard", "--table"])   # the table alone: the other studies are sized for the small config
    print(f"GPU DRAKES standard config: {time.time() - t0:.1f}s total on {torch.cuda.get_device_name()}")
    by = {r["method"]: r for r in rows}
    d, pre, nokl = by["drakes"], by["pretrained"], by["drakes_no_kl"]
    print(f"true activity: pretrained {pre['true_activity_median']:.3f} -> drakes {d['true_activity_median']:.3f} "
          f"(no KL {nokl['true_activity_median']:.3f}); exact log-lik {pre['log_likelihood_exact']:.1f} -> "
          f"{d['log_likelihood_exact']:.1f} (no KL {nokl['log_likelihood_exact']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
