"""Model files: `model.safetensors` (weights) + `model.json` (how to rebuild them).

Never pickle: loading a model is reading tensors and JSON, so a model file from
another user cannot run code on a worker.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ml import nets
from ml.durable import replace_with, write_text
from ml.finite import check_tensors

FORMAT_VERSION = 1


def save_model(out_dir, model: torch.nn.Module, config: dict, reporter=None) -> Path:
    """Write the model to `out_dir` and report both files as artifacts.

    `config` must hold `arch` and `arch_kwargs` (see `ml.nets`), plus whatever the
    model's users need: `prediction`, `schedule`, `data`, `task`, ...
    """
    out_dir = Path(out_dir)
    state, tied, seen = {}, {}, {}
    for k, v in model.state_dict().items():
        # a tied tensor (an LM head sharing the embedding) is stored once: safetensors refuses shared memory
        ident = (v.data_ptr(), tuple(v.shape), v.dtype)
        if v.numel() and ident in seen:
            tied[k] = seen[ident]
            continue
        seen[ident] = k
        state[k] = v.detach().contiguous().cpu()
    if tied:
        config = {**config, "tied": tied}
    check_tensors(state.values(), "the model's weights", "(the model is not saved)")
    out_dir.mkdir(parents=True, exist_ok=True)
    replace_with(out_dir / "model.safetensors", lambda tmp: save_file(state, str(tmp)))
    cfg = {"format": FORMAT_VERSION, **config}
    write_text(out_dir / "model.json", json.dumps(cfg, indent=2, sort_keys=True))
    if reporter is not None:
        reporter.artifact("model.safetensors", out_dir / "model.safetensors", "model")
        reporter.artifact("model.json", out_dir / "model.json", "config")
    return out_dir


def read_config(path) -> dict:
    path = Path(path)
    if path.is_file():
        path = path.parent
    cfg_file = path / "model.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"no model.json in {path}")
    return json.loads(cfg_file.read_text())


def load_model(path, device="cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a model from its folder; returns (module in eval mode, config)."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    cfg = read_config(path)
    if cfg.get("quantization"):
        from ml.quantize.packed import load_quantized  # quantized models rebuild their layers

        model = load_quantized(path, cfg, device)
    else:
        model = nets.build(cfg["arch"], **cfg.get("arch_kwargs", {}))
        model.load_state_dict(load_file(str(path / "model.safetensors"), device="cpu"))
    return model.to(device).eval(), cfg
