"""The `quantize` job on a transformers causal LM: block by block from its files, perplexity on a text.

Steps: perplexity of the fp model on the held-out tail of the calibration text (streamed, one block loaded
at a time); then each block quantized on the calibration windows (`hf_blocks`), checkpointed as it is done
(a worker lost mid-model resumes at the next block: the done blocks come back from the checkpoint and the
calibration stream is recomputed through them); the perplexity of the quantized model; the packed model
(model.safetensors + model.json, as every quantized model here, with the tokenizer beside it) and
`model.zip` (`hf_export`), plus the GPTQ checkpoint where the layout allows (`hf_gptq`).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import torch

from ml import checkpoint
from ml.finite import check_finite
from ml.modelio import save_model
from ml.quantize.block_stage import block_stage
from ml.quantize.hf_blocks import advance, block_inputs, quantize_block, streamed_perplexity
from ml.quantize.hf_export import EXTRA_FILES, write_dequantized, zip_folder
from ml.quantize.hf_gptq import quantization_config, unsupported
from ml.quantize.hf_folder import BadModelFolder, open_lm, quantized_block, tied_keys
from ml.quantize.hf_text import perplexity, read_text, token_windows
from ml.reporting import check_stop, write_json

BATCH = 8


def _restore_block(lm, i: int, layers: dict, tensors: dict) -> None:
    """Block i as the checkpoint holds it: its quantized layers swapped in, every tensor loaded."""
    prefix = lm.block_name(i) + "."
    block = quantized_block(lm, i, layers)
    block.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    lm.layers[i] = block.eval()


def run_transformers(p, reporter, method_options, size_report) -> dict:
    if p.calibration is None:
        raise ValueError("calibration: a transformers model is calibrated and evaluated on a text; give "
                         "{'artifact': <id of a text upload>} (terminal runs: {'path': 'file.txt'})")
    if p.calibration.path is None:
        raise ValueError("calibration: the job system fills 'path'; a terminal run must give {'path': '<file>'}")
    lm = open_lm(p.model.path)
    if getattr(lm.config, "quantization_config", None):
        raise BadModelFolder("model: this model is already quantized (its config has a quantization_config)")
    from transformers import AutoTokenizer
    tokenizer = AutoTokenizer.from_pretrained(lm.folder)
    context = getattr(lm.config, "max_position_embeddings", None) or getattr(lm.config, "n_positions", None)
    if context is not None and p.seq_len > context:
        raise ValueError(f"seq_len: {p.seq_len} is longer than the model's context ({context} tokens)")
    text = read_text(p.calibration.path)
    calib, held = token_windows(tokenizer, text, p.seq_len, p.n_calibration, p.seed)
    n_params = lm.weights.numel()
    reporter.log(f"{type(lm.model).__name__}: {lm.n_blocks} blocks, {n_params / 1e6:.2f} M parameters "
                 f"({lm.weights.dtype()}); {len(calib)} calibration and {len(held)} held-out windows of {p.seq_len} "
                 f"tokens")
    notes = (f"perplexity on the last 10 % of the calibration text: {len(held)} windows of {p.seq_len} tokens, "
             f"mean next-token loss over seq_len - 1 predictions each")
    key = p.model_dump(mode="json")
    ckpt = Path(reporter.out_dir) / "checkpoint"
    kept = checkpoint.load(ckpt)
    if kept is not None and kept.meta.get("params") == key:
        metric_before, rows, done = kept.meta["metric_before"], kept.meta["rows"], kept.meta["blocks_done"]
        for i in range(done):
            _restore_block(lm, i, kept.meta["layers"], kept.tensors)
        reporter.log(f"resumed after block {done} of {lm.n_blocks}, attempt {reporter.attempt}")
    else:
        metric_before = streamed_perplexity(lm, held, BATCH, check=lambda: check_stop(reporter))
        check_finite(metric_before, "perplexity of the model to quantize", "before quantization")
        rows, done = [], 0
        checkpoint.save(ckpt, 0, {}, {"params": key, "metric_before": metric_before, "rows": [], "layers": {},
                                      "blocks_done": 0})
    reporter.metric("perplexity_fp32", metric_before, 0)
    reporter.log(f"metric: {notes}")

    calls = block_inputs(lm, calib, BATCH)
    for i in range(done):  # the stream through the blocks a resumed run already has
        calls = advance(lm.layers[i], calls)
    d = p.decoupleq

    def tune(qblock, fblock, inputs):
        got = block_stage(qblock, fblock, inputs, "", d.block_epochs, d.block_lr, d.train_norms, d.train_bias)
        if got is not None:
            reporter.log(f"block stage: calibration MSE {got[0]:.3e} -> {got[1]:.3e}")
            return {"block": "", "mse_before": got[0], "mse_after": got[1]}
        return None

    staged = p.method == "decoupleq" and d.block_stage
    t0 = time.perf_counter()
    for i in range(done, lm.n_blocks):
        new = quantize_block(lm, i, calls, p.method, p.bits, p.group_size, p.symmetric, method_options(p), p.skip,
                             p.include_conv1d, tune if staged else None)
        for r in new:
            if "block_stage" in r:
                r["block_stage"]["block"] = lm.block_name(i)
        rows += new
        calls = advance(lm.layers[i], calls)
        layers = {r["name"]: lm.model.get_submodule(r["name"]).spec() for r in rows}
        prefix = lm.block_name(i) + "."
        # one part per block (carry): the checkpoint grows by a block, never rewrites the earlier ones
        checkpoint.save(ckpt, i + 1, {prefix + k: v for k, v in lm.layers[i].state_dict().items()},
                        {"params": key, "metric_before": metric_before, "rows": rows, "layers": layers,
                         "blocks_done": i + 1}, carry=True)
        for r in new:
            reporter.metric("layer_rel_error", r["rel_error"], rows.index(r))
        reporter.progress(i + 1, lm.n_blocks)
        check_stop(reporter)
    if not rows:
        raise ValueError("no layer to quantize (all skipped?)")
    seconds = time.perf_counter() - t0
    metric_after = perplexity(lm.model, held, BATCH)
    check_finite(metric_after, "perplexity of the quantized model", f"after quantizing {len(rows)} layers")
    reporter.metric("perplexity", metric_after, len(rows))
    sizes = size_report(lm.model, rows, p.bits, p.symmetric or p.method == "nupes")
    reporter.log(f"perplexity: {metric_before:.4f} -> {metric_after:.4f}; {sizes['bits_per_weight']:.3f} bits/weight "
                 f"in the quantized layers; {seconds:.1f} s")

    out = Path(reporter.out_dir)
    layers = {r["name"]: lm.model.get_submodule(r["name"]).spec() for r in rows}
    qinfo = {"method": p.method, "bits": p.bits, "group_size": p.group_size, "symmetric": p.symmetric,
             "act_order": p.act_order, "source": {"path": str(p.model.path), "artifact": p.model.artifact},
             "layers": layers, "transposed": sorted(r["name"] for r in rows if r.get("stored_transposed"))}
    tied = tied_keys(lm.model)
    save_model(out, lm.model, {"arch": "transformers", "transformers_config": lm.config.to_dict(),
                               "quantization": qinfo}, reporter)
    for f in EXTRA_FILES:  # the packed folder is self-contained: load_model(out) + AutoTokenizer(out)
        if (lm.folder / f).is_file():
            shutil.copy2(lm.folder / f, out / f)
    folder = write_dequantized(lm, rows, tied, out / "hf_model")
    reporter.artifact("model.zip", zip_folder(folder, out / "model.zip"), "archive")
    shutil.rmtree(folder, ignore_errors=True)
    why = next((f"{r['name']}: {w}" for r in rows if (w := unsupported(lm.model.get_submodule(r["name"]), p.method))),
               None)
    if why is None:
        cfg = quantization_config(p.bits, p.group_size, p.symmetric)
        folder = write_dequantized(lm, rows, tied, out / "hf_gptq", gptq=cfg)
        reporter.artifact("model-gptq.zip", zip_folder(folder, out / "model-gptq.zip"), "archive")
        shutil.rmtree(folder, ignore_errors=True)
    else:
        reporter.log(f"no GPTQ-format export: {why}")
    result = {"metric_name": "perplexity", "metric_before": metric_before, "metric_after": metric_after,
              "higher_is_better": False, **sizes, "file_bytes": (out / "model.safetensors").stat().st_size,
              "layers": rows, "mean_layer_error": sum(r["rel_error"] for r in rows) / len(rows),
              "seconds": seconds, "method": p.method, "bits": p.bits, "group_size": p.group_size,
              "symmetric": p.symmetric, "act_order": p.act_order, "skip": list(p.skip), "metric_notes": notes,
              "block_stage": [r["block_stage"] for r in rows if "block_stage" in r], "extra_metrics": {},
              "unreached_layers": [], "device": "cpu", "seq_len": p.seq_len,
              "calibration_windows": len(calib), "eval_windows": len(held), "gptq_export": why is None}
    reporter.artifact("layers.json", write_json(out / "layers.json", rows), "table")
    shutil.rmtree(ckpt, ignore_errors=True)
    return result
