"""Quantization benchmark: methods x bits x group size on the char-level transformer (docs/benchmarks.md).

    python bench/bench_quantize.py [--quick] [--threads N]
    python -m bench.bench_quantize gpt2      # only the tiny GPT-2 rows

Every row runs the real job (`ml.quantize.run`) on the builtin full char transformer (0.43 M params, trained
once in-process and cached) and reports validation perplexity, mean per-layer relative output error, packed
bytes (and bits per weight vs the b + 32/g formula) and quantization time. Library rows on the same model:
torchao IntxWeightOnlyConfig (its RTN; int8 storage, not packed) and HQQ when importable. Goals from the
issue are checked and printed. Writes bench/results/quantize.json and a plot (PNG, not committed).
"""
from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from ml.quantize import run  # noqa: E402
from ml.quantize.testbed import builtin_testbed  # noqa: E402
from ml.reporting import PrintReporter  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = [32, 64, 128, -1]
BITS = [4, 3, 2]
METHODS = ["rtn", "gptq", "decoupleq", "nupes"]
# decoupleQ's first-level integer step (50 projected Adam steps, then rounding column by column with 5 more after each)
# costs ~4x the GPTQ-rounding default (the repo's LLM recipe) here: one extra row, at W2 g32
PGD = ("decoupleq_pgd", {"method": "decoupleq", "decoupleq": {"round_fn": "train"}}, {(2, 32)})
# the prototype's figures: fp32 5.406, GPTQ W2 g32 5.860; the goals were set on it
PROTOTYPE_FP, GOAL_DQ, GOAL_GPTQ = 5.406, 5.70, 5.86


def _linear_names(model):
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]


def torchao_row(task, bits, group):
    try:
        from torchao.quantization import IntxWeightOnlyConfig, MappingType, PerAxis, PerGroup, quantize_
    except Exception as e:  # noqa: BLE001
        return {"method": "torchao_intx", "bits": bits, "group_size": group, "skipped": f"torchao: {e}"}
    model = copy.deepcopy(task.model)
    t0 = time.perf_counter()
    quantize_(model, IntxWeightOnlyConfig(weight_dtype=getattr(torch, f"int{bits}"),
                                          granularity=PerGroup(group) if group > 0 else PerAxis(0),
                                          mapping_type=MappingType.ASYMMETRIC))
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryFile() as f:  # torchao keeps int8 codes unpacked; its real saved size
        torch.save(model.state_dict(), f)
        size = f.tell()
    return {"method": "torchao_intx", "bits": bits, "group_size": group, "perplexity": task.metric(model),
            "packed_bytes": size, "seconds": seconds, "note": "torch.save size, int8 codes (unpacked)"}


def hqq_row(task, bits, group):
    try:
        from hqq.core.quantize import BaseQuantizeConfig, HQQLinear
    except Exception as e:  # noqa: BLE001
        return {"method": "hqq", "bits": bits, "group_size": group,
                "skipped": f"hqq not importable ({type(e).__name__}); `pip install hqq` pulls transformers+accelerate"}
    if group < 0:
        return {"method": "hqq", "bits": bits, "group_size": group, "skipped": "per-channel not run for HQQ"}
    model = copy.deepcopy(task.model)
    t0 = time.perf_counter()
    size = 0
    for name in _linear_names(model):
        lin = model.get_submodule(name)
        h = HQQLinear(lin, BaseQuantizeConfig(nbits=bits, group_size=group, axis=1), compute_dtype=torch.float32,
                      device="cpu", del_orig=False)
        size += h.W_q.numel() * h.W_q.element_size() + 2 * 2 * lin.weight.numel() // group  # fp16 scale + zero
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, child, h)
    seconds = time.perf_counter() - t0
    lin_ids = {id(task.model.get_submodule(n).weight) for n in _linear_names(task.model)}
    other = sum(4 * p.numel() for p in task.model.parameters() if id(p) not in lin_ids)
    return {"method": "hqq", "bits": bits, "group_size": group, "perplexity": task.metric(model),
            "packed_bytes": size + other, "seconds": seconds,
            "note": "HQQ's packed codes + fp16 scale/zero per group, other params fp32 as in our rows"}


def _save_partial(rows, args):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quantize.partial.json").write_text(json.dumps({"size": args.size, "rows": rows}, indent=1))


GPT2_SEEDS = (0, 1, 2, 3)
# the test's 32 windows and the char transformer's 128: whether an order between methods holds as calibration grows
GPT2_CALIBRATION = (32, 128)


def tiny_gpt2_rows(tmp) -> dict:
    """A user's transformers LM (ml/quantize/tiny_lm.py, block by block from its files): perplexity per method
    at W2/W3 per channel, for the model trained from each of GPT2_SEEDS (whether a gap between methods is more
    than the spread between trainings), and at W3 for the same model with LLM-like outlier weights; each
    method's time as a ratio to RTN's in this process."""
    from ml.quantize.tiny_lm import tiny_gpt2, with_outlier_channels

    rows = []
    for seed, variant, n_cal, bits in itertools.product(GPT2_SEEDS, ("plain", "outliers"), GPT2_CALIBRATION, (3, 2)):
        if variant == "outliers" and bits != 3:
            continue  # the 3-bit order is what the outlier-free model leaves open
        folder, text = tiny_gpt2(Path(tmp) / "tiny_gpt2", seed)
        if variant == "outliers":  # the same function with LLM-like outlier weights (tiny_lm.py)
            plain, folder = folder, Path(tmp) / f"tiny_gpt2_outliers_{seed}"
            if not folder.is_dir():
                with_outlier_channels(plain, folder, seed=seed)
        for method in METHODS:
            params = {"model": {"path": str(folder)}, "calibration": {"path": str(text)}, "method": method,
                      "bits": bits, "group_size": -1, "n_calibration": n_cal, "seq_len": 64}
            r = run(params, PrintReporter(Path(tmp) / f"gpt2-{seed}-{variant}-{n_cal}-{method}-{bits}",
                                          stream=open(os.devnull, "w"), quiet_progress=True))
            rows.append({"seed": seed, "model": variant, "method": method, "bits": bits, "group_size": -1,
                         "n_calibration": n_cal, "perplexity": r["metric_after"],
                         "fp32_perplexity": r["metric_before"], "mean_layer_error": r["mean_layer_error"],
                         "seconds": r["seconds"]})
    for row in rows:
        rtn = next(r for r in rows if r["method"] == "rtn" and r["bits"] == row["bits"] and r["seed"] == row["seed"]
                   and r["n_calibration"] == row["n_calibration"] and r["model"] == row["model"])
        row["time_vs_rtn"] = row["seconds"] / max(rtn["seconds"], 1e-9)
        print(f"tiny GPT-2 seed {row['seed']} {row['model']} {row['n_calibration']} windows W{row['bits']} "
              f"{row['method']:<10} ppl {row['perplexity']:.3f} "
              f"(fp32 {row['fp32_perplexity']:.3f})  layer error {row['mean_layer_error']:.4f}  "
              f"time x{row['time_vs_rtn']:.1f} RTN", flush=True)
    return {"model": "tiny GPT-2 (2 blocks, d 64, BPE 512, pydoc text)", "seeds": list(GPT2_SEEDS),
            "calibration_windows": list(GPT2_CALIBRATION), "rows": rows}


def update_gpt2() -> dict:
    """`python -m bench.bench_quantize gpt2`: rerun only the tiny GPT-2 part into bench/results/quantize.json."""
    path = RESULTS / "quantize.json"
    result = json.loads(path.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        result["tiny_gpt2"] = tiny_gpt2_rows(tmp)
    path.write_text(json.dumps(result, indent=2))
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gpt2"]:
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
        return update_gpt2()
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="g32 and per-channel only")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS", "2")))
    ap.add_argument("--size", default="full", choices=["full", "small"])
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    groups = [32, -1] if args.quick else GROUPS
    t0 = time.perf_counter()
    task = builtin_testbed("char_transformer", args.size, 0, 8)
    fp_ppl = task.metric(task.model)
    print(f"char transformer ({args.size}): {sum(p.numel() for p in task.model.parameters())} params, "
          f"fp32 perplexity {fp_ppl:.4f} (train/load {time.perf_counter() - t0:.1f} s)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bits in BITS:
            for group in groups:
                variants = [(m, {"method": m}) for m in METHODS] + [PGD[:2]] * ((bits, group) in PGD[2])
                for method, extra in variants:
                    params = {"model": {"builtin": "char_transformer", "size": args.size}, "bits": bits,
                              "group_size": group, "n_calibration": 128, **extra}
                    out = Path(tmp) / f"{method}-{bits}-{group}"
                    r = run(params, PrintReporter(out, stream=open(os.devnull, "w"), quiet_progress=True))
                    row = {"method": method, "bits": bits, "group_size": group, "perplexity": r["metric_after"],
                           "mean_layer_error": r["mean_layer_error"], "packed_bytes": r["packed_bytes"],
                           "formula_bytes": r["formula_bytes"], "bits_per_weight": r["bits_per_weight"],
                           "formula_bits_per_weight": r["formula_bits_per_weight"], "seconds": r["seconds"],
                           "file_bytes": r["file_bytes"]}
                    rows.append(row)
                    _save_partial(rows, args)
                    print(f"W{bits} g{group:>4} {method:<10} ppl {row['perplexity']:.4f}  err {row['mean_layer_error']:.4f}  "
                          f"{row['packed_bytes']:>7} B  {row['bits_per_weight']:.3f} bpw  {row['seconds']:.1f} s", flush=True)
                rows.append(torchao_row(task, bits, group))
                try:
                    rows.append(hqq_row(task, bits, group))
                except Exception as e:  # noqa: BLE001 (e.g. its 4-bit packing needs an even number of groups)
                    rows.append({"method": "hqq", "bits": bits, "group_size": group, "skipped": f"hqq failed: {e}"})
                for r in rows[-2:]:
                    print(f"W{bits} g{group:>4} {r['method']:<10} " + (r.get("skipped") or
                          f"ppl {r['perplexity']:.4f}  {r['packed_bytes']:>7} B  {r['seconds']:.1f} s"), flush=True)
    find = lambda m, b, g: next(r for r in rows if r["method"] == m and r["bits"] == b and r["group_size"] == g)  # noqa: E731
    ours = [r for r in rows if "bits_per_weight" in r]
    dq, gptq = find("decoupleq", 2, 32)["perplexity"], find("gptq", 2, 32)["perplexity"]
    goals = {
        "fp32_ppl_at_most_prototype_5.406": fp_ppl <= PROTOTYPE_FP,
        "decoupleq_w2_g32_ppl_below_5.70": dq < GOAL_DQ,
        "gptq_w2_g32_ppl_at_most_5.86": gptq <= GOAL_GPTQ,
        # the same goals as losses over fp32, since our fp32 model is better than the prototype's
        "decoupleq_w2_g32_loss_below_0.294": dq - fp_ppl < GOAL_DQ - PROTOTYPE_FP,
        "gptq_w2_g32_loss_at_most_0.454": gptq - fp_ppl <= GOAL_GPTQ - PROTOTYPE_FP,
        "packed_within_1pct_of_formula": all(abs(r["bits_per_weight"] / r["formula_bits_per_weight"] - 1) < 0.01
                                             for r in ours),
    }
    print("\nW2 g32 perplexity: " + ", ".join(f"{m} {find(m, 2, 32)['perplexity']:.3f}" for m in METHODS)
          + f"  (fp32 {fp_ppl:.3f})")
    for k, v in goals.items():
        print(f"goal {k}: {'met' if v else 'NOT met'}")
    result = {"model": {"name": "char_transformer", "size": args.size, "fp32_perplexity": fp_ppl,
                        "params": sum(p.numel() for p in task.model.parameters())},
              "threads": args.threads, "rows": rows, "goals": goals}
    with tempfile.TemporaryDirectory() as tmp:
        result["tiny_gpt2"] = tiny_gpt2_rows(tmp)
    result["seconds"] = time.perf_counter() - t0
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "quantize.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "quantize.partial.json").unlink(missing_ok=True)
    try:
        plot(rows, fp_ppl, RESULTS / "quantize.png")
    except Exception as e:  # noqa: BLE001
        print(f"plot skipped: {e}")
    return result


def plot(rows, fp_ppl, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=False)
    for ax, bits in zip(axes, BITS):
        for method in METHODS + [PGD[0], "torchao_intx", "hqq"]:
            pts = [(r["bits_per_weight"] if "bits_per_weight" in r else r["group_size"], r["perplexity"])
                   for r in rows if r["method"] == method and r["bits"] == bits and "perplexity" in r
                   and "bits_per_weight" in r]
            if pts:
                ax.plot(*zip(*sorted(pts)), "o-", label=method)
        ax.axhline(fp_ppl, color="k", ls=":", label="fp32")
        ax.set_title(f"W{bits}")
        ax.set_xlabel("bits per weight (packed)")
    axes[0].set_ylabel("validation perplexity")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
