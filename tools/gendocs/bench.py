"""The benchmark tables of docs/benchmarks.md, read from bench/results/<name>.json.

One function per results file (each benchmark writes its own shape). Cells hold numbers and names;
what a number means is said in the page's prose, not in the table.
"""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def render(name: str) -> str:
    path = RESULTS / f"{name.split('.')[0]}.json"
    if not path.exists():
        return f"*Not measured yet: `make bench BENCH={name.split('.')[0]}` writes `bench/results/{path.name}`.*"
    return TABLES[name](json.loads(path.read_text()))


def table(head, rows) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return g(v)
    return str(v)


def g(v, digits=3) -> str:
    """`digits` significant figures, no exponent for everyday magnitudes."""
    if v is None:
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 1e-3:
        return f"{v:.1e}"
    text = f"{v:.{digits}g}"
    return f"{float(text):,.0f}" if "e" in text else text


def f(v, decimals=2) -> str:
    return "–" if v is None else f"{v:.{decimals}f}"


def pm(row, key, decimals=2) -> str:
    """mean ± sd over seeds where there were several."""
    sd = row.get(f"{key}_std")
    text = f(row.get(key), decimals)
    return f"{text} ± {sd:.{decimals}f}" if sd and len(row.get("seeds", [])) > 1 else text


def platform(d) -> str:
    rows = [(r["measure"].strip(), *(f(r.get(q), 2 if "vs" in r["measure"] else 1) for q in ("p50", "p90", "p99")),
             r.get("goal") or "") for r in d["rows"]]
    return table(("measure", "p50", "p90", "p99", "goal"), rows) + (
        f"\n\nServers: PostgreSQL {d['servers']['postgresql']}, Redis {d['servers']['redis']}; "
        f"{d['machine']['cpus']} CPUs; medians of {len(d['repeats'])} repeats.")


def scheduler(d) -> str:
    rows = [(r["measure"].strip(), *(f(r.get(q), 2) for q in ("p50", "p90", "p99")), r.get("goal") or "")
            for r in d["rows"]]
    return table(("measure", "p50", "p90", "p99", "goal"), rows) + (
        f"\n\n{d['waiting']:,} waiting jobs of {d['users']} users, {d['runs']:,} past runs, {d['slots']} slots; "
        f"{d['passes']} passes; {d['machine']['cpus']} CPUs.")


def load(d) -> str:
    j, fan, scale = d["jobs"], d["fanout"], d["scale"]
    rows = [
        (f"{j['jobs']} jobs, {j['users']} users", f"{j['jobs_per_s']:.1f} jobs/s",
         f"{j['ended_once']}/{j['jobs']} ended once, {j['seq_gaps']} seq gaps"),
        (f"{fan['clients']} websocket clients, {fan['rate']} events/s",
         f"p50 {fan['latency_ms']['p50']:.0f} ms, p99 {fan['latency_ms']['p99']:.0f} ms",
         f"{fan['complete_in_order']}/{fan['clients']} got every event in order"),
    ]
    rows += [(name, f"p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms", f"{m['queries']} SQL queries")
             for name, m in scale.items()]
    rows += [(f"{name}, a project of 10,000 jobs and 20 members", f"p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms",
              f"{m['ratio']:.2f}x one user's 10,000-job project ({m['single_user_p50']:.1f} ms; goal <= 1.2)")
             for name, m in d.get("team", {}).items()]
    return table(("measure", "time", "check"), rows)


def storage(d) -> str:
    rows = [(r["op"], r["size_mb"], f(r["lab_mb_s"], 1), f(r["boto3_mb_s"], 1), f(r["ratio"]), ">= 0.8")
            for r in d["throughput"]]
    c = d["cached_input"]
    rows += [("cached input, first in a process", "–", f"p50 {c['new_process_p50_ms']:.2f} ms",
              f"p99 {c['new_process_p99_ms']:.2f} ms", "–", "< 5 ms"),
             ("cached input, again", "–", f"p50 {c['added_p50_ms']:.3f} ms", f"p99 {c['added_p99_ms']:.3f} ms",
              "–", "< 5 ms")]
    return table(("measure", "MB", "lab", "boto3", "ratio", "goal"), rows) + (
        f"\n\nS3: {d['server']}; {d['machine']['cpus']} CPUs; best of {d['rounds']} alternating rounds.")


def sample(d) -> str:
    nfes = [str(n) for n in d["nfes"] if n != 50]
    head = ("sampler", "grid", *(f"ours {n}" for n in nfes), "best grid (10)", *(f"diffusers {n}" for n in nfes),
            "overhead")
    rows = []
    for r in d["rows"]:
        best = r["ours_best_grid_10"]
        theirs = [f(r["diffusers"].get(n), 3) + ("*" if r["diffusers_nfe"].get(n, int(n)) != int(n) else "")
                  if n in r["diffusers"] else "–" for n in nfes]
        ratio = r["overhead_us"] / r["diffusers_overhead_us"] if "overhead_us" in r else None
        rows.append((f"`{r['sampler']}`", r["grid"], *(f(r["ours"].get(n), 3) for n in nfes),
                     f"{best['rmse']:.3f} {best['grid']}", *theirs, f(ratio)))
    for e in d["diffusers_extra"]:
        rows.append((f"diffusers `{e['diffusers']}`", "", *("" for _ in nfes), "",
                     *(f(e["rmse"].get(n), 3) for n in nfes), ""))
    return table(head, rows)


def sample_headline(d) -> str:
    goals = d["goals"]
    best = next(r for r in d["rows"] if r["sampler"] == goals["ours_best_10_nfe_solver"])
    grid = best["ours_best_grid_10"]["grid"] if best["ours_best_grid_10"]["rmse"] < best["ours"]["10"] else best["grid"]
    return table(("at 10 NFE", "RMSE"), [
        (f"our best (`{best['sampler']}`, grid `{grid}`)", f(goals["ours_best_10_nfe_rmse"], 3)),
        ("DDIM", f(goals["ddim_10_nfe_rmse"], 3)),
        ("diffusers' best", f(goals["diffusers_best_10_nfe_rmse"], 3)),
    ]) + (f"\n\nSolver overhead per step: median {goals['median_overhead_ratio']:.2f} x diffusers' "
          f"(max {goals['max_overhead_ratio']:.2f}).")


def sample_unet(d) -> str:
    rows = [(f"`{r['sampler']}`", f"`{r['diffusers']}`", str(r["steps"]), f"{r['ours_s'] * 1e3:.0f} ms",
             f"{r['diffusers_s'] * 1e3:.0f} ms", f(r["ratio"]), f"{r['max_gap_rel']:.1e}") for r in d["rows"]]
    shape = "x".join(str(v) for v in d["data_shape"])
    return table(("ours", "diffusers", "steps", "ours, wall", "diffusers, wall", "ratio", "max gap / max abs x"),
                 rows) + (f"\n\nTiny random UNet ({d['parameters']:,} parameters, {shape}), batch "
                          f"{d['rows'][0]['batch']}, whole loop with the network, {d['threads']} thread.")


def sample_flow(d) -> str:
    flow = d.get("flow") or {}
    nfes = list(next(iter(flow.values()), {}))
    return table(("solver", *(f"NFE {n}" for n in nfes)),
                 [(name.replace("_", " ", 1), *(f(v, 3) for v in curve.values())) for name, curve in flow.items()])


def train(d) -> str:
    o = d["overhead"]
    return table(("measure", "platform", "plain loop", "ratio", "goal"), [
        ("samples / s", f"{o['platform_samples_per_s']:,.0f}", f"{o['plain_samples_per_s']:,.0f}", f(o["ratio"]), ""),
        ("samples / CPU-s", f"{o['platform_samples_per_cpu_s']:,.0f}", f"{o['plain_samples_per_cpu_s']:,.0f}",
         f(o["ratio_cpu"]), f"≥ {o['goal']}"),
    ])


def train_quality(d) -> str:
    q = d["quality"]
    rows = []
    for r in q["rows"]:
        if "sampler_fd_nfe10" in r:
            continue
        rows.append((r["model"], f"{r['n_params'] / 1e6:.2f} M", pm2(r, "fd_nfe1"), pm2(r, "fd_nfe2"),
                     pm2(r, "fd_nfe10"), pm2(r, "fd_nfe10_heun")))
    return table(("model", "params", "FD 1 NFE", "FD 2 NFE", "FD 10 NFE (Euler)", "FD 10 NFE (Heun)"), rows) + (
        f"\n\nFD floor (real vs real): {q['fd_floor']:.2f}; mean ± sd over noise seeds {q['noise_seeds']}.")


def pm2(r, key):
    sd = r.get(f"{key}_sd")
    return f"{r[key]:.2f} ± {sd:.2f}" if sd is not None else f(r.get(key))


def train_vp(d) -> str:
    vp = next(r for r in d["quality"]["rows"] if "sampler_fd_nfe10" in r)
    ref = d["quality"].get("prototype_reference", {}).get("fd_nfe10", {})
    rows = [(f"`{s}`", g(vp["sampler_fd_nfe10"][s]), g(vp["sampler_fd_nfe20"].get(s)), g(ref.get(s)))
            for s in vp["sampler_fd_nfe10"]]
    return table(("sampler", "FD 10 NFE", "FD 20 NFE", "prototype, 10 NFE"), rows) + (
        f"\n\n{vp['model']}, {vp['n_params'] / 1e6:.2f} M params; DDIM at 100 NFE: {vp['fd_nfe100_ddim']:.2f}.")


def quantize(d, only=None) -> str:
    groups = sorted({r["group_size"] for r in d["rows"]}, key=lambda gs: (gs == -1, gs))
    out = []
    for bits in sorted({r["bits"] for r in d["rows"]} & set(only or range(9)), reverse=True):
        methods = list(dict.fromkeys(r["method"] for r in d["rows"] if r["bits"] == bits))
        cells = {(r["method"], r["group_size"]): r for r in d["rows"] if r["bits"] == bits}
        rows = []
        for m in methods:
            row = [f"`{m}`"]
            for gs in groups:
                r = cells.get((m, gs))
                row.append("–" if r is None or "perplexity" not in r else f"{r['perplexity']:.3f}")
            rows.append(row)
        out.append(f"**{bits}-bit** (perplexity; fp32 {d['model']['fp32_perplexity']:.3f})\n\n"
                   + table(("method", *(f"g{gs}" if gs > 0 else "per channel" for gs in groups)), rows))
    return "\n\n".join(out)


def quantize_gpt2(d) -> str:
    """The tiny GPT-2 rows: per model (plain, or with outlier weights), calibration size, bits and method, the
    perplexity added to fp32's over the training seeds (mean, range: the seeds' models differ in fp32
    perplexity, so the cost is what compares), at how many seeds it is below GPTQ's, and the layer error."""
    import statistics

    g2 = d["tiny_gpt2"]
    rows = []
    # rows from before the model and calibration columns: the plain model, 32 windows
    key = lambda r: (r.get("model", "plain"), r.get("n_calibration", 32), r["bits"])  # noqa: E731
    for variant, n_cal, bits in sorted({key(r) for r in g2["rows"]}, key=lambda k: (k[0] != "plain", k[1], -k[2])):
        here = [r for r in g2["rows"] if key(r) == (variant, n_cal, bits)]
        cost = {(r["method"], r["seed"]): r["perplexity"] - r["fp32_perplexity"] for r in here}
        for m in dict.fromkeys(r["method"] for r in here):
            rs = [r for r in here if r["method"] == m]
            c = [cost[m, r["seed"]] for r in rs]
            below = "" if m == "gptq" else f"{sum(cost[m, r['seed']] < cost['gptq', r['seed']] for r in rs)} of {len(rs)}"
            rows.append((variant, n_cal, f"W{bits}", f"`{m}`", f"+{statistics.mean(c):.3f}",
                         f"{min(c):+.3f} to {max(c):+.3f}", below, f(statistics.mean(r["mean_layer_error"] for r in rs), 4),
                         f"x{statistics.median(r['time_vs_rtn'] for r in rs):.1f}"))
    fp = sorted({round(r["fp32_perplexity"], 2) for r in g2["rows"]})
    return table(("model", "calibration windows", "bits", "method", "perplexity over fp32", "range over seeds",
                  "seeds below GPTQ", "mean layer error", "time vs RTN (median)"), rows) + (
        f"\n\n{g2['model']}, trained from seeds {', '.join(map(str, g2['seeds']))}: fp32 perplexity "
        f"{', '.join(f'{v:.2f}' for v in fp)}; `outliers`: the same models with 2 channels of each block's "
        "LayerNorms scaled down 8x and the linear layers' input rows they feed up 8x (the same function).")


def quantize_size(d) -> str:
    rows = [(r["bits"], f"g{r['group_size']}" if r["group_size"] > 0 else "per channel",
             f"{r['packed_bytes']:,}", f"{r['formula_bytes']:,}", f(r["bits_per_weight"], 3))
            for r in d["rows"] if r["method"] == "gptq"]
    return table(("bits", "group", "packed bytes", "formula bytes", "bits / weight"), rows)


DNA_HEAD = ("method", "oracle calls", "seeds", "true activity", "eval oracle", "fine-tune oracle", "log-lik (exact)",
            "3-mer corr", "accessibility", "diversity")


def _dna_row(r, label=None):
    calls = r.get("oracle_calls")
    return (f"`{label or r['method']}`", "–" if calls is None else f"{calls:,.0f}", len(r.get("seeds", [])),
            pm(r, "true_activity_median"), pm(r, "pred_activity_median"), pm(r, "reward_ft_median"),
            pm(r, "log_likelihood_exact", 1), f(r.get("kmer_corr")), f(r.get("accessibility_acc")),
            f(r.get("diversity"), 1))


def drakes(d) -> str:
    return table(DNA_HEAD, [_dna_row(r) for r in d["rows"]]) + "\n\n" + _oracles(d)


def _oracles(d) -> str:
    parts = []
    for name, o in d.get("oracles", {}).items():
        parts.append(f"`{name}` held-out Pearson {o['val_pearson']:.2f}, accessibility head "
                     f"{o['val_accessibility_acc']:.3f} (majority baseline {o['val_accessibility_baseline']:.3f})")
    return "Oracles: " + "; ".join(parts) + "." if parts else ""


def drakes_small(d) -> str:
    rows = sorted(d["budget_table"], key=lambda r: (r["budget"], r["method"]))
    return table(DNA_HEAD, [_dna_row(r) for r in rows])


def drakes_small_others(d) -> str:
    rows = [r for r in d["rows"] if r["method"] in ("pretrained", "smc", "tds", "cfg")]
    return table(DNA_HEAD, [_dna_row(r) for r in rows]) + "\n\n" + _oracles(d)


def drakes_sweep(d) -> str:
    alphas = list(dict.fromkeys(r["alpha"] for r in d["rows"]))
    ks = list(dict.fromkeys(r["truncate_steps"] for r in d["rows"]))
    by = {(r["alpha"], r["truncate_steps"]): r for r in d["rows"]}
    rows = [(f"α = {a}", *(f"{f(by[a, k]['true_activity_median'])} / {f(by[a, k]['kmer_corr'])}"
                           if (a, k) in by else "–" for k in ks)) for a in alphas]
    return table(("", *(f"K = {k}" for k in ks)), rows)


def drakes_frontier(d) -> str:
    rows = sorted(d["rows"], key=lambda r: (r["budget"], r["method"]))
    return table(DNA_HEAD, [_dna_row(r) for r in rows])


def drakes_hacking(d) -> str:
    curves = d["curves"]
    steps = sorted({int(s) for c in curves.values() for s in c["reward"]})
    shown = [s for s in steps if s in (steps[0], steps[1], steps[len(steps) // 2], steps[-1])]
    rows = []
    for alpha, c in curves.items():
        for key, label in (("reward", "fine-tune oracle"), ("eval/true_activity_median", "true activity"),
                           ("eval/kmer_corr", "3-mer corr")):
            series = {int(s): v for s, v in c[key].items()}
            # eval points sit one step before the reward's logging steps (the evaluation ends a step)
            rows.append((f"α = {alpha}", label, *(f(series.get(s, series.get(s - 1))) for s in shown)))
    return table(("run", "measure", *(f"step {s}" for s in shown)), rows)


def drakes_oracle_data(d) -> str:
    rows = [(f"{r['oracle_sequences']:,}", f(r["oracle_val_pearson"]), f"α = {r['alpha']}",
             pm(r, "true_activity_median"), f(r["true_activity_worst"]), f(r["kmer_corr"]),
             f"{r['collapsed_runs']}/{len(r['seeds'])}") for r in d["rows"]]
    return table(("oracle trained on", "its Pearson", "run", "true activity", "worst evaluation", "3-mer corr",
                  "collapsed"), rows)


def sweeps(d) -> str:
    rows = [(r["measure"], f(r.get("p50"), 1), f(r.get("p90"), 1), f(r.get("p99"), 1), r.get("goal") or "")
            for r in d["rows"]]
    load = d.get("load_average")
    return table(("measure", "p50", "p90", "p99", "goal"), rows) + (
        f"\n\n{d['trials']} trials a sweep; {d['machine']['cpus']} CPUs"
        + (f", load average {load[0]:.1f} while it ran." if load else "."))


TABLES = {
    "sweeps": sweeps,
    "platform": platform, "scheduler": scheduler, "load": load, "storage": storage, "sample": sample, "sample.flow": sample_flow,
    "train": train, "train.quality": train_quality, "train.vp": train_vp,
    "quantize": quantize, "quantize.size": quantize_size, "quantize.2bit": lambda d: quantize(d, only=[2]),
    "quantize.gpt2": quantize_gpt2,
    "sample.headline": sample_headline, "sample_unet": sample_unet,
    "drakes": drakes, "drakes_small": drakes_small, "drakes_small.others": drakes_small_others,
    "drakes_sweep": drakes_sweep, "drakes_frontier": drakes_frontier, "drakes_hacking": drakes_hacking,
    "drakes_oracle_data": drakes_oracle_data,
}
