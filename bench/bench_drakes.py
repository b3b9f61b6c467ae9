"""DRAKES vs. baselines on the synthetic DNA task: the paper's Table 2 shape, on a task with ground truth.

Pipeline (as jobs would run it): train masked_diffusion -> train oracle on split 0 (reward) and split 1
(eval_reward) -> finetune with each method. Rows: pretrained, best_of_n, cg, smc, tds, cfg, drakes,
drakes_no_kl (alpha = 0). Best-of-N gets the same number of oracle calls as DRAKES's training.

Configs:
- "smoke"    : L=32 smoke task (ml.dna.smoke), width-32 nets, N=32 steps, K=8, 60 DRAKES steps; minutes on CPU.
- "standard" : the default task (L=200, 6 motifs), MDLM width 64 x 10 layers (3k steps), oracles width 64
               (2k steps), N=64 steps, K=16, 16x2 trajectories x 200 DRAKES steps; sized for a GPU
               (bench/gpu_drakes.py), an hour or more on 2 CPU cores.
Usage: python bench/bench_drakes.py [smoke|standard] [--sweep]   (writes bench/results/drakes.json)
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.dna.smoke import smoke_artifacts  # noqa: E402
from ml.finetune import run  # noqa: E402
from ml.reporting import PrintReporter  # noqa: E402

KEYS = ["pred_activity_median", "true_activity_median", "accessibility_acc", "kmer_corr",
        "log_likelihood_pretrained", "log_likelihood_exact", "diversity", "oracle_calls", "reward_ft_median", "seconds"]

CONFIGS = {
    "smoke": {
        "task": None, "mdlm": {}, "oracle": {},
        "ft": {"sampling_steps": 32, "truncate_steps": 8, "batch_size": 16, "grad_accum": 1, "steps": 60,
               "lr": 1e-3, "n_samples": 256, "eval_every": 0, "alpha": 0.05, "particles": 32},
    },
    "standard": {
        "task": {"type": "dna", "length": 200, "motifs": None, "sites_per_seq": 1.5, "n_data": 20000,
                 "n_reference": 20000, "top_fraction": 0.001, "seed": 0},
        "mdlm": {"steps": 3000, "batch_size": 128, "width": 64, "depth": 10, "lr": 1e-3, "warmup_steps": 200},
        "oracle": {"steps": 2000, "batch_size": 256, "width": 64},
        "ft": {"sampling_steps": 64, "truncate_steps": 16, "batch_size": 16, "grad_accum": 2, "steps": 200,
               "lr": 3e-4, "n_samples": 640, "eval_every": 0, "alpha": 0.05, "particles": 64},
    },
}


def artifacts(name, device):
    c = CONFIGS[name]
    cache = ROOT / "bench" / "results" / f"drakes_{name}_models"
    return smoke_artifacts(cache, c["task"], dict(c["mdlm"], device=device), dict(c["oracle"], device=device))


def methods(ft):
    budget = ft["steps"] * ft["batch_size"] * ft["grad_accum"]
    return {
        "pretrained": {"method": "pretrained"},
        "best_of_n": {"method": "best_of_n", "best_of_n": max(1, budget // ft["n_samples"])},
        "cg": {"method": "cg", "guidance_scale": 20.0},
        "smc": {"method": "smc", "smc_alpha": 0.5},
        "tds": {"method": "tds", "smc_alpha": 0.5, "guidance_scale": 20.0},
        "cfg": {"method": "cfg", "cfg_w": 10.0, "cfg_train_steps": 300},
        "drakes": {"method": "drakes"},
        "drakes_no_kl": {"method": "drakes", "alpha": 0.0},
    }


def plot_sweep(rows, path):
    """The alpha / K trade-off: true activity against exact log-likelihood, one point per job."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        a, k = r["method"].split("_alpha")[1].split("_K")
        ax.scatter(r["log_likelihood_exact"], r["true_activity_median"], s=20 + 8 * int(k), label=r["method"])
        ax.annotate(f"a={a},K={k}", (r["log_likelihood_exact"], r["true_activity_median"]), fontsize=7)
    ax.set_xlabel("median exact log-likelihood (generator)")
    ax.set_ylabel("median true activity")
    ax.set_title("DRAKES: alpha / K trade-off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    name = next((a for a in argv if a in CONFIGS), "smoke")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(1)   # small convs: threads only add contention on shared cores
    t0 = time.time()
    art = artifacts(name, device)
    print(f"[{name}] models ready in {time.time() - t0:.0f}s: {art}", flush=True)
    ft = CONFIGS[name]["ft"]
    base = dict(ft, model={"path": str(art["model"])}, reward={"path": str(art["reward"])},
                eval_reward={"path": str(art["eval_reward"])}, device=device)
    todo = methods(ft)
    if "--sweep" in argv:
        todo = {f"drakes_alpha{a}_K{k}": {"method": "drakes", "alpha": a, "truncate_steps": k}
                for a in (0.0, 0.01, 0.05, 0.2) for k in (1, ft["truncate_steps"] // 2, ft["truncate_steps"])}
    rows = []
    out = ROOT / "bench" / "results"
    for label, kw in todo.items():
        rep = PrintReporter(out / f"drakes_{name}_runs" / label, quiet_progress=True, stream=open("/dev/null", "w"))
        res = run(dict(base, **kw), rep)
        rows.append({"method": label, **{k: res.get(k) for k in KEYS}, "model_evals": res.get("model_evals")})
        print(f"{label:>14} " + " ".join(f"{k.split('_')[0][:6]}={res.get(k, float('nan')):.3g}" for k in KEYS), flush=True)
    print()
    header = ["method"] + KEYS
    print(" | ".join(f"{h[:12]:>12}" for h in header))
    for r in rows:
        print(" | ".join(f"{(r[h] if isinstance(r[h], str) else format(r[h] if r[h] is not None else float('nan'), '.4g')):>12}" for h in header))
    if "--sweep" in argv:
        plot_sweep(rows, out / "drakes_sweep.png")
    fname = "drakes_sweep.json" if "--sweep" in argv else "drakes.json"
    (out / fname).write_text(json.dumps({"config": name, "device": device, "rows": rows}, indent=2))
    print(f"wrote {out / fname} ({time.time() - t0:.0f}s)")
    return rows


if __name__ == "__main__":
    main()
