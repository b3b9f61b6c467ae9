"""DRAKES vs. baselines on the synthetic DNA task: the paper's Table 2 shape, on a task with ground truth,
and DRAKES against best-of-N and classifier guidance at equal budgets of oracle calls.

Pipeline (as jobs would run it): train masked_diffusion -> train oracle on split 0 (reward) and split 1
(eval_reward) -> finetune with each method.

Oracle calls are counted the same way for every method (each is one query of the fine-tune oracle, with
or without a gradient): DRAKES = its training trajectories (steps x batch x accumulation; sampling the
fine-tuned model afterwards is free), best-of-N = N x n_samples, CG = guided steps x n_samples (one
oracle gradient per sample and guided step), SMC = one value per particle and step, TDS = that plus a
gradient. Each budget B gives best-of-N N = B / n_samples, CG B / n_samples guided steps (evenly spaced
over the sampler's steps; beyond that many steps the sampler runs B / n_samples steps, all guided) and
DRAKES B / batch optimizer steps. CG's scale is tuned per budget on a grid, picked by the held-out eval
oracle (never by the true activity, which stays a test metric); best-of-N has nothing to tune. DRAKES,
its alpha=0 ablation and best-of-N run with several seeds (mean and std in the table).

DRAKES knobs ("small"): the repo's defaults scaled to the task. K = 12 of N = 32 steps (the repo's 50 of
128); alpha = 0.025: the repo's estimator sums over positions and relaxed steps, so alpha scales with
L x K: 1e-3 x (200 x 50) / (32 x 12) = 0.026; tau = 1.0; clip 1.0. The learning rate is not the repo's
1e-4 x 128 trajectories per step: our budgets are 1k-16k trajectories, not the repo's 128k, so batch 16
at lr 2e-3 (chosen among 1e-3, 2e-3, 3e-3 in short runs).

Configs:
- "small"    : L=32 smoke task with 12k labelled sequences (ml.dna.smoke.SMALL_TASK), width-32 nets,
               budgets 1k / 4k / 16k oracle calls, 256 samples per method; ~2 CPU-hours for the table, ~1 more for the rest.
- "standard" : the default task (L=200, 6 motifs), MDLM width 64 x 10 layers (3k steps), oracles width 64
               (2k steps), N=64 steps, K=25, 640 samples, budgets 2.5k / 10k / 41k calls, one seed; sized
               for a GPU (bench/gpu_drakes.py; not run yet).
- "standard_cpu": the standard config's models and knobs at its smallest budget only, one seed: the default
               task on 2 CPU cores in about an hour.
Results: the tables as --table says; the studies drakes_<study>.json for "small", drakes_<study>_<config>.json
for the others.
Usage: python bench/bench_drakes.py [small|standard|standard_cpu] [--table | --sweep | --hacking | --frontier | --oracle-data]
       [--alpha=A]
- no flag (as `make bench` runs it): all five below on "small", then the table on the default task ("standard"
  on a GPU, "standard_cpu" otherwise); every job is cached, so a rerun only fills gaps.
- --table: every method at every budget: bench/results/drakes.json on the default task (standard,
  standard_cpu), drakes_small.json on the small one.
- --sweep: alpha x K at the smallest budget, drakes_sweep.json + .png.
- --hacking: DRAKES with and without KL trained 2x past the largest budget, the eval metrics every 1/16 of
  it: where the fine-tune oracle's reward and the truth part ways; drakes_hacking.json + .png.
- --frontier: DRAKES at 2x and 4x alpha at every budget beside best-of-N (from the config's table),
  drakes_frontier.json. With --alpha=A, --hacking / --frontier run only that alpha (two processes can share
  the work; a plain run afterwards assembles the file from the cache).
- --oracle-data: DRAKES with and without KL against fine-tune oracles trained on 1.5k-12k sequences, at the
  middle budget: how well the gamed oracle knows the task decides whether hacking costs true activity or
  only naturalness; drakes_oracle_data.json.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from ml.dna.smoke import SMALL_ORACLE, SMALL_TASK, oracle_artifact, smoke_artifacts  # noqa: E402
from ml.finetune import Params, run  # noqa: E402
from ml.params import applicable  # noqa: E402
from ml.reporting import PrintReporter  # noqa: E402

KEYS = ["pred_activity_median", "true_activity_median", "accessibility_acc", "accessibility_true", "kmer_corr",
        "log_likelihood_pretrained", "log_likelihood_exact", "diversity", "oracle_calls", "reward_ft_median",
        "model_evals", "seconds"]

CONFIGS = {
    "small": {
        "task": SMALL_TASK, "mdlm": {}, "oracle": {"steps": SMALL_ORACLE["steps"]},
        "ft": {"sampling_steps": 32, "truncate_steps": 12, "batch_size": 16, "grad_accum": 1, "lr": 2e-3,
               "alpha": 0.025, "n_samples": 256, "eval_every": 0, "checkpoint_every": 0, "particles": 32},
        "budgets": (1024, 4096, 16384), "seeds": (0, 1, 2), "cg_scales": (50.0, 100.0, 200.0, 400.0),
    },
    "standard": {
        "task": {"type": "dna", "length": 200, "motifs": None, "sites_per_seq": 1.5, "n_data": 20000,
                 "n_reference": 20000, "top_fraction": 0.001, "seed": 0},
        "mdlm": {"steps": 3000, "batch_size": 128, "width": 64, "depth": 10, "lr": 1e-3, "warmup_steps": 200},
        "oracle": {"steps": 2000, "batch_size": 256, "width": 64},
        # K 25 of 64 (repo 50 of 128); alpha 1e-3 x (200 x 50) / (200 x 25)
        "ft": {"sampling_steps": 64, "truncate_steps": 25, "batch_size": 32, "grad_accum": 1, "lr": 1e-3,
               "alpha": 2e-3, "n_samples": 640, "eval_every": 0, "checkpoint_every": 0, "particles": 64},
        "budgets": (2560, 10240, 40960), "seeds": (0,), "cg_scales": (50.0, 200.0, 800.0),
    },
}


# the default task on 2 CPU cores: the standard config's models, its smallest budget only (about an hour)
CONFIGS["standard_cpu"] = dict(CONFIGS["standard"], models="standard", budgets=(2560,), cg_scales=(50.0, 200.0))


def out(name, stem, ext="json"):
    """A study's file: bench/results/<stem>.json for the small config (the studies are sized for it),
    <stem>_<config>.json for the others."""
    return RESULTS / (f"{stem}.{ext}" if name == "small" else f"{stem}_{name}.{ext}")


def models_config(name):
    """The config whose models `name` uses (standard_cpu shares standard's)."""
    return CONFIGS[name].get("models", name)


def table_path(name):
    """The table of every method: drakes.json is the one on the default DNA task (docs/benchmarks.md; "standard" on a
    GPU or "standard_cpu", its config recorded in it), drakes_small.json the small task's."""
    return RESULTS / ("drakes.json" if models_config(name) == "standard" else f"drakes_{name}.json")


def models_folder(name):
    return RESULTS / f"drakes_{models_config(name)}_models"


def artifacts(name, device):
    c = CONFIGS[name]
    cache = models_folder(name)
    return smoke_artifacts(cache, c["task"], dict(c["mdlm"], device=device), dict(c["oracle"], device=device))


def run_folder(name, label, seed=0):
    """Where one cached job of the bench keeps its result.json and curve.json."""
    return RESULTS / f"drakes_{name}_runs" / f"{label}_s{seed}"


def at_budget(method, budget, ft):
    """Params that make `method` spend `budget` oracle calls (see the module docstring)."""
    per_sample = max(1, budget // ft["n_samples"])
    if method == "best_of_n":
        return {"method": "best_of_n", "best_of_n": per_sample}
    if method == "cg":
        if per_sample <= ft["sampling_steps"]:
            return {"method": "cg", "guided_steps": per_sample}
        return {"method": "cg", "sampling_steps": per_sample}
    steps = max(1, budget // (ft["batch_size"] * ft["grad_accum"]))
    return {"method": "drakes", "steps": steps, **({"alpha": 0.0} if method == "drakes_no_kl" else {})}


# inference-time baselines at the budgets their samplers spend (SMC / TDS: one value, plus a gradient for
# TDS, per particle and step; CFG: no oracle, it trains on the reward oracle's labelled half instead)
FIXED = {
    "pretrained": {"method": "pretrained"},
    "smc": {"method": "smc", "smc_alpha": 0.5},
    "tds": {"method": "tds", "smc_alpha": 0.5, "guidance_scale": 20.0},
    "cfg": {"method": "cfg", "cfg_w": 10.0, "cfg_train_steps": 300},
}


def mean_row(method, runs, budget=None):
    """One table row: the mean of each metric over seeds, the std of the headline ones."""
    row = {"method": method, "budget": budget, "seeds": [r["seed"] for r in runs]}
    for k in KEYS:
        vals = [r[k] for r in runs if r.get(k) is not None]
        row[k] = float(np.mean(vals)) if vals else None
    for k in ("true_activity_median", "pred_activity_median", "log_likelihood_exact", "reward_ft_median"):
        row[k + "_std"] = float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0
    for k in ("best_of_n", "guidance_scale", "guided_steps", "steps", "alpha", "truncate_steps", "lr"):
        if runs[0].get(k) is not None:
            row[k] = runs[0][k]
    return row


def plot_sweep(rows, path):
    """The alpha / K trade-off: true activity against each naturalness measure, one point per job. (K = 1
    points coincide for every alpha: the repo's KL estimator is exactly 0 when the step's input is hard.)"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, (key, label) in zip(axes, [("kmer_corr", "3-mer correlation with top natural sequences"),
                                       ("log_likelihood_exact", "median exact log-likelihood (generator)")]):
        for r in rows:
            a, k = r["method"].split("_alpha")[1].split("_K")
            ax.scatter(r[key], r["true_activity_median"], s=20 + 4 * int(k))
            ax.annotate(f"a={a},K={k}", (r[key], r["true_activity_median"]), fontsize=7)
        ax.set_xlabel(label)
    axes[0].set_ylabel("median true activity")
    fig.suptitle("DRAKES: alpha / K trade-off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def frontier(name, c, job, only=()):
    """DRAKES at larger alpha at every budget, against best-of-N at the same budget (from the config's table): does
    DRAKES still win on true activity once its 3-mer naturalness is held at best-of-N's?"""
    ft = c["ft"]
    table = json.loads(table_path(name).read_text())["budget_table"]
    rows = [r for r in table if r["method"] in ("best_of_n", "drakes")]
    for alpha in only or (2 * ft["alpha"], 4 * ft["alpha"]):
        for budget in c["budgets"]:
            res = job(f"frontier_a{alpha}_B{budget}", dict(at_budget("drakes", budget, ft), alpha=alpha))
            rows.append(dict(mean_row(f"drakes_alpha{alpha}", [res], budget), alpha=alpha))
    if only:
        return rows
    rows.sort(key=lambda r: (r["budget"], r["method"]))
    print_table(rows, ["method", "budget", "true_activity_median", "kmer_corr", "log_likelihood_exact", "diversity"])
    out(name, "drakes_frontier").write_text(json.dumps({"config": name, "rows": rows}, indent=2))
    return rows


def hacking(name, c, job, only=()):
    """Reward hacking over training time: one long run per alpha, 128 fresh samples scored every 1/16 of it.
    `only`: run just these alphas (two processes can share the work; a last plain run assembles the table)."""
    ft = c["ft"]
    steps = 2 * c["budgets"][-1] // (ft["batch_size"] * ft["grad_accum"])
    every = steps // 16
    curves = {}
    for alpha in only or (ft["alpha"], 0.0):
        label = f"hacking_a{alpha}"
        res = job(label, {"method": "drakes", "alpha": alpha, "steps": steps, "eval_every": every, "eval_samples": 128})
        events = json.loads((run_folder(name, label) / "curve.json").read_text())
        # per-step training metrics as means over each evaluation window (the file stays small)
        for key in ("reward", "kl", "grad_norm"):
            per_step = events[key]
            events[key] = {str(w): float(np.mean([v for st, v in per_step.items() if w <= int(st) < w + every]))
                           for w in range(0, steps, every)}
        curves[str(alpha)] = events
    if only:
        return curves
    keys = ("reward", "eval/pred_activity_median", "eval/true_activity_median", "eval/kmer_corr",
            "eval/log_likelihood_exact", "eval/diversity")
    print(f"{'alpha':>6} {'step':>6} " + " ".join(f"{k.split('/')[-1][:14]:>14}" for k in keys))
    for alpha, curve in curves.items():
        for step in sorted({int(s) for s in curve["eval/true_activity_median"]}, key=int):
            window = str(max(0, step + 1 - every))  # training reward: the window that ends at this evaluation
            print(f"{alpha:>6} {step:>6} " + " ".join(
                f"{curve[k].get(window if k == 'reward' else str(step), float('nan')):14.3f}" for k in keys))
    plot_hacking(curves, every, out(name, "drakes_hacking", "png"))
    out(name, "drakes_hacking").write_text(json.dumps({"config": name, "steps": steps, "eval_every": every,
                                                         "oracle_calls": steps * ft["batch_size"] * ft["grad_accum"],
                                                         "curves": curves}, indent=2))
    return curves


ORACLE_DATA = (3000, 6000, 12000, 24000)   # labelled sequences generated; each oracle trains on one half


def oracle_data(name, c, job, device):
    """Does hacking reach the true activity? It depends on how well the gamed oracle knows the task: the
    fine-tune oracle retrained on ORACLE_DATA labelled sequences (the same task, generator and truth; only
    the labelled sample differs), everything else fixed (the pretrained model, the eval oracle, the budget
    of the table's middle column), DRAKES with and without KL on each."""
    ft = c["ft"]
    budget = c["budgets"][1]
    steps = budget // (ft["batch_size"] * ft["grad_accum"])
    every = steps // 8
    rows = []
    for n in ORACLE_DATA:
        task = dict(c["task"], n_data=n)
        oracle = oracle_artifact(models_folder(name), task, dict(c["oracle"], device=device))
        fit = json.loads((Path(oracle) / "result.json").read_text())["eval"]
        for alpha in (ft["alpha"], 0.0):
            label = f"oracle_data_n{n}_a{alpha}"
            kw = {"method": "drakes", "alpha": alpha, "steps": steps, "eval_every": every, "eval_samples": 128,
                  "reward": {"path": str(oracle)}}
            runs = [job(label, kw, seed) for seed in c["seeds"]]
            curves = [json.loads((run_folder(name, label, seed) / "curve.json").read_text()) for seed in c["seeds"]]
            # the worst point of each run after the start: without KL a run can collapse onto one out-of-distribution sequence
            # the oracle overrates (poly-A) and climb out again later, which the final samples alone hide
            worst = [min(v for st, v in cv["eval/true_activity_median"].items() if int(st) > 0) for cv in curves]
            rows.append({**mean_row(f"drakes_alpha{alpha}", runs, budget), "alpha": alpha, "n_data": n,
                         "oracle_sequences": n // 2, "oracle_val_pearson": fit["val_pearson"],
                         "true_activity_worst": float(np.mean(worst)), "true_activity_worst_runs": worst,
                         "collapsed_runs": sum(min(cv["eval/diversity"].values()) < 5.0 for cv in curves),
                         "true_activity_curves": [cv["eval/true_activity_median"] for cv in curves],
                         "kmer_corr_curves": [cv["eval/kmer_corr"] for cv in curves]})
    print_table(rows, ["n_data", "alpha", "oracle_val_pearson", "reward_ft_median", "true_activity_median",
                       "true_activity_worst", "collapsed_runs", "kmer_corr", "log_likelihood_exact"])
    out(name, "drakes_oracle_data").write_text(json.dumps(
        {"config": name, "budget": budget, "steps": steps, "eval_every": every, "rows": rows}, indent=2))
    return rows


def plot_hacking(curves, every, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for alpha, curve in curves.items():
        for ax, (key, title) in zip(axes, [("reward", "fine-tune oracle reward (training batches)"),
                                           ("eval/true_activity_median", "median true activity"),
                                           ("eval/kmer_corr", "3-mer correlation (naturalness)"),
                                           ("eval/log_likelihood_exact", "median exact log-likelihood")]):
            shift = every / 2 if key == "reward" else 0  # a window mean sits mid-window
            pts = sorted((int(s) + shift, v) for s, v in curve[key].items())
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f"alpha={alpha}")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("optimizer step")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def fmt(v, key=""):
    if v is None:
        return "nan"
    return str(v) if isinstance(v, str) else format(v, ".4g")


def print_table(rows, cols):
    print(" | ".join(f"{c[:12]:>12}" for c in cols))
    for r in rows:
        cells = []
        for c in cols:
            cell = fmt(r.get(c))
            if c + "_std" in r and len(r.get("seeds", [])) > 1:
                cell += f"±{r[c + '_std']:.2f}"
            cells.append(f"{cell:>12}")
        print(" | ".join(cells), flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    name = next((a for a in argv if a in CONFIGS), None)
    if name is None:  # `make bench`: the small task's table and studies, then the table on the default task
        rows = run_config("small", argv)
        if not any(a.startswith("--") and a != "--table" for a in argv):
            run_config("standard" if torch.cuda.is_available() else "standard_cpu", ["--table"])
        return rows
    return run_config(name, argv)


def run_config(name, argv):
    c = CONFIGS[name]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and name == "small":
        torch.set_num_threads(1)   # L = 32 convs: threads only add contention (L = 200 ones run 2-3x faster on 2)
    t0 = time.time()
    art = artifacts(name, device)
    print(f"[{name}] models ready in {time.time() - t0:.0f}s: {art}", flush=True)
    ft = c["ft"]
    base = dict(ft, model={"path": str(art["model"])}, reward={"path": str(art["reward"])},
                eval_reward={"path": str(art["eval_reward"])}, device=device)

    def job(label, kw, seed=0):
        folder = run_folder(name, label, seed)
        params = applicable(Params, dict(base, seed=seed, **kw))  # the config's DRAKES knobs go only to DRAKES
        cached = folder / "result.json"   # an interrupted bench resumes: finished jobs are not rerun
        if cached.exists() and json.loads(cached.read_text()).get("params") == params:
            res = json.loads(cached.read_text())
        else:
            rep = PrintReporter(folder, quiet_progress=True, stream=open("/dev/null", "w"))
            res = dict(run(params, rep), seed=seed, params=params)
            curve = {}
            for e in rep.events:
                if e["type"] == "metric":
                    curve.setdefault(e["data"]["name"], {})[str(e["data"]["step"])] = e["data"]["value"]
            (folder / "curve.json").write_text(json.dumps(curve))
            cached.write_text(json.dumps(res))
        print(f"{label:>24} seed {seed} " + " ".join(f"{k.split('_')[0][:6]}={fmt(res.get(k))}" for k in KEYS[:-2]),
              flush=True)
        return res

    only = [float(a.split("=", 1)[1]) for a in argv if a.startswith("--alpha=")]
    if "--frontier" in argv:
        return frontier(name, c, job, only)
    if "--hacking" in argv:
        return hacking(name, c, job, only)
    if "--sweep" in argv:
        return sweep(name, c, job, device)
    if "--oracle-data" in argv:
        return oracle_data(name, c, job, device)
    rows = main_table(name, c, art, job, device, t0)
    if "--table" not in argv:  # `make bench`: everything; each job is cached, so a rerun only fills gaps
        sweep(name, c, job, device)
        frontier(name, c, job)
        hacking(name, c, job)
        oracle_data(name, c, job, device)
    return rows


def sweep(name, c, job, device):
    ft = c["ft"]
    low = c["budgets"][0]
    K = ft["truncate_steps"]
    rows = [dict(mean_row(f"drakes_alpha{a}_K{k}", [job(f"sweep_a{a}_K{k}", dict(at_budget("drakes", low, ft),
                                                                                    alpha=a, truncate_steps=k))]),
                 budget=low)
            for a in (0.0, ft["alpha"] / 2.5, ft["alpha"], 4 * ft["alpha"]) for k in (1, K // 2, K)]
    print_table(rows, ["method", "true_activity_median", "log_likelihood_exact", "kmer_corr", "reward_ft_median"])
    plot_sweep(rows, out(name, "drakes_sweep", "png"))
    out(name, "drakes_sweep").write_text(json.dumps({"config": name, "device": device, "budget": low,
                                                       "rows": rows}, indent=2))
    return rows


def main_table(name, c, art, job, device, t0):
    ft = c["ft"]
    fixed = {m: mean_row(m, [job(m, kw)]) for m, kw in FIXED.items()}
    table, cg_grid = [], []
    for budget in c["budgets"]:
        for method in ("best_of_n", "drakes", "drakes_no_kl"):
            kw = at_budget(method, budget, ft)
            table.append(mean_row(method, [job(f"{method}_B{budget}", kw, s) for s in c["seeds"]], budget))
        grid = [mean_row("cg", [job(f"cg_B{budget}_scale{g}", dict(at_budget("cg", budget, ft), guidance_scale=g))],
                         budget) for g in c["cg_scales"]]
        cg_grid += grid
        table.append(dict(max(grid, key=lambda r: r["pred_activity_median"]), selected_by="pred_activity_median"))
        print(f"--- budget {budget} oracle calls ---")
        print_table([r for r in table if r["budget"] == budget],
                    ["method", "true_activity_median", "pred_activity_median", "reward_ft_median",
                     "log_likelihood_exact", "kmer_corr", "accessibility_acc", "oracle_calls"])
    top = c["budgets"][-1]
    rows = [fixed["pretrained"]] + [r for r in table if r["budget"] == top and r["method"] in ("best_of_n", "cg")] \
        + [fixed[m] for m in ("smc", "tds", "cfg")] \
        + [r for r in table if r["budget"] == top and r["method"] in ("drakes", "drakes_no_kl")]
    heads = {k: json.loads((Path(art[k]) / "result.json").read_text())["eval"] for k in ("reward", "eval_reward")}
    print("\nall methods (DRAKES, best-of-N, CG at the largest budget):")
    print_table(rows, ["method"] + KEYS[:-1])
    print("accessibility head on held-out natural data (eval oracle): accuracy "
          f"{heads['eval_reward']['val_accessibility_acc']:.3f}, majority baseline "
          f"{heads['eval_reward']['val_accessibility_baseline']:.3f}")
    result = {"config": name, "device": device, "n_samples": ft["n_samples"], "budgets": list(c["budgets"]),
              "seeds": list(c["seeds"]), "rows": rows, "budget_table": table, "cg_grid": cg_grid,
              "oracles": heads, "ft": ft, "seconds": time.time() - t0}
    path = table_path(name)
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path} ({time.time() - t0:.0f}s)")
    return rows


if __name__ == "__main__":
    main()
