"""The testbed a model is quantized on: what it is for, its calibration inputs and its metric.

A `Testbed` gives the model, its config (to save the quantized model under the same arch), batches of
calibration inputs (tuples of forward arguments), held-out evaluation batches, the metric and the names
of its blocks (for decoupleQ's block stage). Builtin models have a real task metric; a model artifact
is recognised from its model.json:
- continuous diffusion/flow denoisers ("prediction" eps/x0/v/flow): calibration = data noised at random
  t per its schedule; metric = Frechet distance of 50-step ODE samples (same noise before and after) to
  held-out data (`fd.py`), plus the relative output error of the denoiser on held-out noised data;
- DNA models of the synthetic task (model.json "task"): the task's natural sequences; generators are
  scored on samples (reward, exact log-likelihood), oracles on held-out labels (`testbed_dna.py`);
- other DNA models (one-hot input, Conv1d): random sequences, with a random fraction masked for masked
  diffusion; metric = relative output error;
- anything else whose first layer tells its input width: Gaussian inputs, relative output error.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ml.quantize import builtin, testbed_dna
from ml.sample.schedules import get_schedule


@dataclass
class Testbed:
    model: nn.Module
    config: dict
    calib: list                 # [tuple of forward args]
    metric_name: str
    metric: Callable            # metric(model) -> float
    higher_is_better: bool
    blocks: list = field(default_factory=lambda: [""])  # block-stage specs: a module name ("" = whole model) or a list
    notes: str = ""
    extra: dict = field(default_factory=dict)  # more metrics, name -> fn(model), reported before and after
    scores: Callable | None = None  # or all metrics at once, fn(model) -> {name: value} (one sample set for all)


def measure(task: Testbed, model) -> tuple[float, dict]:
    """(the task metric, the other metrics) of `model`."""
    if task.scores is not None:
        got = task.scores(model)
        return got[task.metric_name], {k: v for k, v in got.items() if k != task.metric_name}
    return task.metric(model), {k: fn(model) for k, fn in task.extra.items()}


def _batches(tensors, batch):
    n = tensors[0].shape[0]
    return [tuple(t[i:i + batch] for t in tensors) for i in range(0, n, batch)]


def builtin_testbed(name, size, seed, n_calibration) -> Testbed:
    gen = torch.Generator().manual_seed(seed + 1)
    if name == "char_transformer":
        model, cfg, (train, val), cached = builtin.char_transformer(size, seed)
        context = cfg["arch_kwargs"]["context"]
        x, _ = builtin.random_windows(train, n_calibration, context, gen)
        metric = lambda m: builtin.perplexity(m, val, context)  # noqa: E731
        # the final LayerNorm and the head lie outside every block: they are the last "block"
        blocks = [f"blocks.{i}" for i in range(len(model.blocks))] + [["ln_f", "head"]]
        return Testbed(model, cfg, _batches((x,), 32), "perplexity", metric, False, blocks,
                    notes=f"validation perplexity on all {(len(val) - 1) // context} windows of {context} characters")
    model, cfg, (xtr, ytr, xte, yte), cached = builtin.digits_mlp(size, seed)
    idx = torch.randperm(len(xtr), generator=gen)[:n_calibration]
    metric = lambda m: builtin.accuracy(m, xte, yte)  # noqa: E731
    return Testbed(model, cfg, _batches((xtr[idx],), 64), "accuracy", metric, True, [""], notes="test accuracy (30 % split)")


# --- model artifacts ---

def _data_samples(cfg, n, gen):
    shape = tuple(cfg.get("data_shape") or [2])
    spec = cfg.get("data") or {}
    try:  # the training data helper, when this checkout has it
        from ml.data import make_dataset
        return make_dataset(spec).sample(n, gen).reshape(n, *shape).float()
    except Exception:
        pass
    if spec.get("type") == "gmm":
        means, stds = torch.tensor(spec["means"], dtype=torch.float32), torch.tensor(spec["stds"], dtype=torch.float32)
        w = torch.tensor(spec.get("weights") or [1.0] * len(means))
        k = torch.multinomial(w / w.sum(), n, replacement=True, generator=gen)
        return means[k] + stds[k].reshape(n, *([1] * (means.dim() - 1))) * torch.randn(n, means.shape[1], generator=gen)
    if spec.get("type") == "digits":
        from sklearn.datasets import load_digits
        d = torch.tensor(load_digits().data, dtype=torch.float32) / 8.0 - 1.0
        return d[torch.randint(0, len(d), (n,), generator=gen)].reshape(n, *shape)
    return torch.randn(n, *shape, generator=gen)


def _diffusion_inputs(cfg, n, gen):
    x0 = _data_samples(cfg, n, gen)
    z = torch.randn(x0.shape, generator=gen)
    flow = cfg.get("prediction") == "flow" or cfg.get("schedule") == "flow"
    schedule = get_schedule("flow" if flow else cfg.get("schedule", "vp_linear"))
    # the times the model is sampled at: vp_cosine ends at its t_max (alpha -> 0 at t = 1), the others at 1
    t_hi = 1.0 if schedule.name == "edm" else schedule.t_max
    t = torch.rand(n, generator=gen) * (t_hi - 1e-3) + 1e-3
    tb = t.reshape(n, *([1] * (x0.dim() - 1)))
    if schedule.name == "edm":
        sigma = torch.exp(torch.randn(n, generator=gen) * 1.2 - 1.2)
        return (x0 + sigma.reshape(tb.shape) * z, sigma)
    alpha, sigma = schedule.alpha_sigma(tb)
    return (alpha * x0 + sigma * z, t)


def _dna_inputs(model, cfg, n, gen):
    width = next(m for m in model.modules() if isinstance(m, nn.Conv1d)).in_channels
    length = int((cfg.get("data") or {}).get("length") or (cfg.get("task") or {}).get("length") or 200)
    tokens = torch.randint(0, 4, (n, length), generator=gen)
    if cfg.get("prediction") == "masked" and width > 4:  # absorbing state = the last channel
        keep = torch.rand(n, 1, generator=gen)
        tokens = torch.where(torch.rand(n, length, generator=gen) < keep, torch.full_like(tokens, width - 1), tokens)
    return (torch.nn.functional.one_hot(tokens, width).float(),)


def _generic_inputs(model, n, gen):
    first = next(m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d)))
    if isinstance(first, nn.Linear):
        return (torch.randn(n, first.in_features, generator=gen),)
    return (torch.randn(n, first.in_channels, 64, generator=gen),)


def artifact_testbed(model, cfg, seed, n_calibration, n_samples=256, eval_oracle=None, sampling_steps=None) -> Testbed:
    gen = torch.Generator().manual_seed(seed + 1)
    dna = cfg.get("task") is not None and cfg.get("prediction") in ("masked", "oracle")
    if cfg.get("prediction") in ("eps", "x0", "v", "flow"):
        make, kind = (lambda k: _diffusion_inputs(cfg, k, gen)), "denoiser on noised data"
    elif dna:
        def make(k):
            return testbed_dna.natural_inputs(cfg, k, int(torch.randint(0, 2 ** 31, (), generator=gen)))
        kind = "outputs on the task's natural sequences" + (" (masked)" if cfg["prediction"] == "masked" else "")
    elif cfg.get("prediction") == "masked" or "dna" in str(cfg.get("arch", "")) or (cfg.get("data") or {}).get("type") == "dna":
        make, kind = (lambda k: _dna_inputs(model, cfg, k, gen)), "outputs on random DNA one-hots"
    else:
        make, kind = (lambda k: _generic_inputs(model, k, gen)), "outputs on Gaussian inputs"
    calib = _batches(make(n_calibration), 64)
    held = _batches(make(max(256, n_calibration)), 64)
    ref = copy.deepcopy(model).eval()
    with torch.no_grad():
        targets = [ref(*b) for b in held]

    def rel_error(m):
        with torch.no_grad():
            num = sum(float(((m(*b) - y) ** 2).sum()) for b, y in zip(held, targets))
            den = sum(float((y ** 2).sum()) for y in targets)
        return math.sqrt(num / max(den, 1e-30))

    notes = f"relative output error of the {kind} (held-out, vs the fp32 model)"
    if dna:
        if cfg["prediction"] == "masked":
            name, scores, what = testbed_dna.generator_scores(cfg, n_samples, seed, eval_oracle, sampling_steps)
        else:
            name, scores, what = testbed_dna.oracle_scores(cfg)
        both = lambda m: {**scores(m), "relative_output_error": rel_error(m)}  # noqa: E731
        return Testbed(model, cfg, calib, name, lambda m: scores(m)[name], True, [""], notes=f"{what}; also {notes}",
                    scores=both)
    if cfg.get("prediction") in ("eps", "x0", "v", "flow") and cfg.get("schedule", "vp_linear") != "edm":
        from ml.quantize.fd import frechet_distance, sample_ode
        shape = tuple(cfg.get("data_shape") or [2])
        noise = torch.randn(1000, *shape, generator=gen)
        data = _data_samples(cfg, 1000, gen)
        fd = lambda m: frechet_distance(sample_ode(m, cfg, noise), data)  # noqa: E731
        return Testbed(model, cfg, calib, "fd", fd, False, [""], extra={"relative_output_error": rel_error},
                    notes="Frechet distance (Gaussian fit, raw space) of 1000 50-step ODE samples to held-out data; "
                          + notes)
    return Testbed(model, cfg, calib, "relative_output_error", rel_error, False, [""], notes=notes)
