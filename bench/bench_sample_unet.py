"""Our DDIM and DPM-Solver++(2M) against diffusers' schedulers on a diffusers UNet (make bench BENCH=sample_unet).

The tiny random UNet of the tests (tests/ml/sample/unet_folder.py, [1, 8, 8], 41,609 parameters) loaded as a
`sample` job loads it (ml/sample/diffusers_unet.py), both sides from the same noise at 20 steps on the same
timesteps (trailing spacing): the whole sampling loop's wall time, network included (median of repeats, one
thread), the ratio ours / diffusers, and the largest gap between the two outputs (parity, float32).
Saved as bench/results/sample_unet.json (docs: docs/kinds/sample.md, "Your own diffusers model").
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.sample.diffusers_unet import load  # noqa: E402
from ml.sample.model import Model  # noqa: E402
from ml.sample.runner import solve  # noqa: E402
from tests.ml.sample.unet_folder import make_unet_folder  # noqa: E402

PAIRS = {"ddim": ("DDIMScheduler", {"set_alpha_to_one": True, "clip_sample": False}),
         "dpm_solver_pp_2m": ("DPMSolverMultistepScheduler", {})}


def timed(fn, repeats):
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


@torch.no_grad()
def main(steps: int = 20, batch: int = 64, repeats: int = 5):
    import diffusers

    diffusers.utils.logging.set_verbosity_error()
    torch.set_num_threads(1)
    folder = make_unet_folder(tempfile.mkdtemp())
    net, cfg, schedule = load(folder)
    x = torch.randn(batch, *cfg["data_shape"], generator=torch.Generator().manual_seed(0))
    rows = []
    for name, (cls, config) in PAIRS.items():
        sched = getattr(diffusers, cls).from_pretrained(str(folder / "scheduler"), timestep_spacing="trailing", **config)

        def theirs():
            sched.set_timesteps(steps)
            y = x.clone()
            for t in sched.timesteps:
                y = sched.step(net.unet(y, t).sample, t, y).prev_sample
            return y

        def ours():
            return solve(Model(net, cfg["prediction"], schedule), x.clone(), name, steps, grid="uniform_t")[0]

        t_ours, a = timed(ours, repeats)
        t_theirs, b = timed(theirs, repeats)
        rows.append({"sampler": name, "diffusers": cls, "steps": steps, "batch": batch, "ours_s": t_ours,
                     "diffusers_s": t_theirs, "ratio": t_ours / t_theirs,
                     "max_gap_rel": float((a - b).abs().max() / b.abs().max())})
        print(f"{name:17s} vs {cls:28s} {steps} steps, batch {batch}: ours {t_ours * 1e3:7.1f} ms, diffusers "
              f"{t_theirs * 1e3:7.1f} ms, ratio {t_ours / t_theirs:.2f}, max gap {rows[-1]['max_gap_rel']:.1e} x max|x|")
    result = {"name": "sample_unet", "rows": rows, "parameters": cfg["parameters"], "data_shape": cfg["data_shape"],
              "torch": torch.__version__, "threads": 1}
    (ROOT / "bench" / "results" / "sample_unet.json").write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
