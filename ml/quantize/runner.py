"""The `quantize` job: load or train a model, quantize it sequentially, measure, save the packed model."""
from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path

import torch

from ml import checkpoint
from ml.device import resolve_device
from ml.finite import check_finite
from ml.modelio import load_model, save_model
from ml.params import parse
from ml.quantize.block_stage import block_stage
from ml.quantize.hf_folder import has_model_json, is_transformers_folder
from ml.quantize.hf_runner import run_transformers
from ml.quantize.model import candidate_layers, quantize_model
from ml.quantize.packed import QuantLinear, formula_bits, quantized_model
from ml.quantize.params import BuiltinModel, Params
from ml.quantize.testbed_dna import lineage_oracle
from ml.quantize.testbed import artifact_testbed, builtin_testbed, measure
from ml.reporting import check_stop, write_json


def method_options(p: Params) -> dict:
    if p.method == "gptq":
        return {"act_order": p.act_order}
    if p.method == "decoupleq":
        d = p.decoupleq
        return {"act_order": p.act_order, "max_iter": d.max_iter, "round_fn": d.round_fn,
                "pgd_steps": d.pgd_steps, "inner_steps": d.inner_steps, "round_block": d.round_block,
                "n_grid": 200 if d.shrink_search else 0}
    if p.method == "nupes":
        return {"steps": p.nupes_steps}
    return {}


def size_report(model, rows, bits, symmetric) -> dict:
    """Packed bytes of the state dict vs fp32/fp16 and vs the bits-per-weight formula."""
    quant_ids = {id(t) for m in model.modules() if isinstance(m, QuantLinear)
                 for t in (m.qweight, m.scales, m.zeros, m.power) if t is not None}
    tensors = {id(t): t for t in model.state_dict(keep_vars=True).values()}
    packed = sum(t.numel() * t.element_size() for t in tensors.values())
    other = sum(t.numel() * t.element_size() for i, t in tensors.items() if i not in quant_ids)
    n_q = sum(r["shape"][0] * r["shape"][1] for r in rows)
    n_other = sum(t.numel() for i, t in tensors.items() if i not in quant_ids)
    formula_q = sum(r["shape"][0] * r["shape"][1] * formula_bits(bits, r["group_size"], symmetric) / 8 for r in rows)
    q_bytes = packed - other
    return {"packed_bytes": int(packed), "fp32_bytes": int(4 * (n_q + n_other)), "fp16_bytes": int(2 * (n_q + n_other)),
            "formula_bytes": int(round(formula_q + other)), "quantized_weights": int(n_q),
            "quantized_layer_bytes": int(q_bytes), "bits_per_weight": 8 * q_bytes / max(1, n_q),
            "formula_bits_per_weight": 8 * formula_q / max(1, n_q)}


def _eval_oracle(p: Params, cfg: dict, reporter):
    """The oracle that scores a DNA generator's samples: the one given, else the one its lineage names."""
    if cfg.get("prediction") != "masked" or cfg.get("task") is None:
        return None
    if p.eval_reward is not None and p.eval_reward.path is None:
        raise ValueError("eval_reward: the job system fills 'path'; a terminal run must give {'path': '<dir>'}")
    path = p.eval_reward.path if p.eval_reward is not None else lineage_oracle(cfg)
    if path is None:
        return None
    oracle, ocfg = load_model(path, "cpu")
    if ocfg.get("prediction") != "oracle":
        raise ValueError(f"eval_reward: {path} is a {ocfg.get('prediction')!r} model, not a DNA oracle")
    reporter.log(f"samples scored by the eval oracle {'given' if p.eval_reward else 'of the lineage'}: {path}")
    return oracle


def run(params, reporter) -> dict:
    p = parse(Params, params)
    device = resolve_device(p.device)
    if device.type != "cpu":  # the solvers are small dense linear algebra; a GPU would not pay for the transfers here
        reporter.log(f"device {device} requested; quantization runs on the CPU (models here are < 10 M params)")
    torch.manual_seed(p.seed)
    if isinstance(p.model, BuiltinModel):
        if p.calibration is not None:
            raise ValueError("calibration: applies only to a transformers model (a folder with config.json)")
        reporter.log(f"training/loading builtin model {p.model.builtin} ({p.model.size}) from seed {p.seed}")
        testbed = builtin_testbed(p.model.builtin, p.model.size, p.seed, p.n_calibration)
        source = {"builtin": p.model.builtin, "size": p.model.size}
    elif is_transformers_folder(p.model.path) or (p.calibration is not None and not has_model_json(p.model.path)):
        # a folder meant as a transformers model (a calibration text given) says what it lacks
        return run_transformers(p, reporter, method_options, size_report)
    else:
        if p.calibration is not None:
            raise ValueError("calibration: applies only to a transformers model (a folder with config.json)")
        model, cfg = load_model(p.model.path, "cpu")
        if cfg.get("quantization"):
            raise ValueError("this model is already quantized")
        testbed = artifact_testbed(model, cfg, p.seed, p.n_calibration, p.n_samples, _eval_oracle(p, cfg, reporter),
                             p.sampling_steps)
        source = {"path": str(p.model.path), "artifact": p.model.artifact}
    reporter.log(f"metric: {testbed.notes}")
    model = testbed.model
    fp_model = copy.deepcopy(model)
    metric_before, extra_before = measure(testbed, model)
    # a model that already scores nan (a diverged training) gives no baseline: quantizing it proves nothing
    check_finite(metric_before, f"{testbed.metric_name} of the model to quantize", "before quantization")
    reporter.metric(testbed.metric_name + "_fp32", metric_before, 0)
    check_stop(reporter)
    candidates = candidate_layers(model, p.include_conv1d, p.skip)
    ckpt, key = Path(reporter.out_dir) / "checkpoint", p.model_dump(mode="json")
    done = []
    kept = checkpoint.load(ckpt)
    if kept is not None and kept.meta.get("params") == key:  # a checkpoint of other params is not reused
        model = testbed.model = quantized_model(testbed.config, kept.meta["layers"])
        model.load_state_dict(kept.tensors, strict=True)
        model.eval()
        done = kept.meta["rows"]
        reporter.log(f"resumed from layer {len(done)}, attempt {reporter.attempt}")

    def keep(rows):
        # the weights after layer k and the rows that describe them are one step of the checkpoint: a kill
        # between the two files leaves the previous layer's pair
        layers = {r["name"]: model.get_submodule(r["name"]).spec() for r in rows}
        checkpoint.save(ckpt, len(rows), model.state_dict(), {"params": key, "rows": rows, "layers": layers})

    def tune_block(spec):
        # decoupleQ's second stage, block by block as the layers are quantized (the repo's order)
        d = p.decoupleq
        got = block_stage(model, fp_model, testbed.calib, spec, d.block_epochs, d.block_lr, d.train_norms, d.train_bias)
        if got is None:
            return None
        name = spec if isinstance(spec, str) else "+".join(spec)
        reporter.log(f"block stage {name or 'model'}: calibration MSE {got[0]:.3e} -> {got[1]:.3e}")
        return {"block": name, "mse_before": got[0], "mse_after": got[1]}

    staged = p.method == "decoupleq" and p.decoupleq.block_stage
    t0 = time.perf_counter()
    rows = quantize_model(model, testbed.calib, p.method, p.bits, p.group_size, p.symmetric, method_options(p),
                          p.skip, p.include_conv1d, reporter, done=done, on_layer=keep, int8_matmul=p.int8_matmul,
                          blocks=testbed.blocks if staged else (), on_block=tune_block)
    if not rows:
        raise ValueError("no layer to quantize (all skipped?)")
    unreached = sorted(set(candidates) - {r["name"] for r in rows})
    if unreached:
        reporter.log(f"left in full precision, never called as modules by forward (no inputs to hook): {unreached}")
    seconds = time.perf_counter() - t0
    metric_after, extra_after = measure(testbed, model)
    # the quantized weights themselves (fp16 scales can overflow) are checked as they are saved (ml/modelio.py)
    check_finite(metric_after, f"{testbed.metric_name} of the quantized model", f"after quantizing {len(rows)} layers")
    extra = {k: {"before": v, "after": extra_after[k]} for k, v in extra_before.items()}
    reporter.metric(testbed.metric_name, metric_after, len(rows))
    sizes = size_report(model, rows, p.bits, p.symmetric or p.method == "nupes")
    reporter.log(f"{testbed.metric_name}: {metric_before:.4f} -> {metric_after:.4f}; {sizes['packed_bytes']} bytes packed "
                 f"vs {sizes['fp32_bytes']} fp32; {sizes['bits_per_weight']:.3f} bits/weight "
                 f"(formula {sizes['formula_bits_per_weight']:.3f}); {seconds:.1f} s")
    qinfo = {"method": p.method, "bits": p.bits, "group_size": p.group_size, "symmetric": p.symmetric,
             "act_order": p.act_order, "source": source,
             "layers": {r["name"]: model.get_submodule(r["name"]).spec() for r in rows}}
    out = Path(reporter.out_dir)
    save_model(out, model, {**testbed.config, "quantization": qinfo}, reporter)
    result = {"metric_name": testbed.metric_name, "metric_before": metric_before, "metric_after": metric_after,
              "higher_is_better": testbed.higher_is_better, **sizes, "file_bytes": (out / "model.safetensors").stat().st_size,
              "layers": rows, "mean_layer_error": sum(r["rel_error"] for r in rows) / len(rows),
              "seconds": seconds, "method": p.method, "bits": p.bits, "group_size": p.group_size,
              "symmetric": p.symmetric, "act_order": p.act_order, "skip": list(p.skip), "metric_notes": testbed.notes,
              "block_stage": [r["block_stage"] for r in rows if "block_stage" in r],
              "extra_metrics": extra, "unreached_layers": unreached, "device": "cpu"}
    reporter.artifact("layers.json", write_json(out / "layers.json", rows), "table")
    shutil.rmtree(ckpt, ignore_errors=True)  # the finished model supersedes it
    return result
