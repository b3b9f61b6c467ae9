"""Resumable training state in safetensors + JSON (never pickle).

Layout under `out_dir/checkpoint/`: `step-<k>/state.safetensors` + `step-<k>/state.json`, and
`latest.json` naming the newest complete step folder. `latest.json` is replaced atomically
(write then os.replace) only after both files of the step exist, so a job killed mid-write
resumes from the previous checkpoint, never from half a file.

What is saved: model, EMA, optimizer state (its tensors flattened as `opt.<param index>.<key>`,
its scalars and param groups in JSON), the training generator's state (which is also the data
sampler's state: every draw comes from it) and the torch global RNG, plus small JSON extras.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ml.finite import check_tensors


def _opt_flatten(opt):
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{idx}.{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{idx}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _opt_unflatten(tensors, meta, device):
    state: dict = {}
    for name, v in tensors.items():
        if name.startswith("opt."):
            _, idx, k = name.split(".", 2)
            state.setdefault(int(idx), {})[k] = v if k == "step" else v.to(device)
    for name, v in meta["scalars"].items():
        idx, k = name.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(ckpt_dir, step, model, ema, opt, generator, extra: dict) -> Path:
    ckpt_dir = Path(ckpt_dir)
    folder = ckpt_dir / f"step-{step}"
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().contiguous().cpu() for k, v in ema.state_dict().items()})
    opt_tensors, opt_meta = _opt_flatten(opt)
    tensors.update(opt_tensors)
    check_tensors(tensors.values(), "the weights", f"at step {step}; the last finite checkpoint is kept")
    tensors["rng.generator"] = generator.get_state().cpu()
    tensors["rng.torch"] = torch.get_rng_state()
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "state.safetensors"))
    (folder / "state.json").write_text(json.dumps({"step": step, "optimizer": opt_meta, "extra": extra}))
    tmp = ckpt_dir / "latest.json.tmp"
    tmp.write_text(json.dumps({"step": step, "folder": folder.name}))
    os.replace(tmp, ckpt_dir / "latest.json")
    for old in ckpt_dir.glob("step-*"):  # keep only the newest complete one
        if old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def load_checkpoint(ckpt_dir, model, ema, opt, generator, device):
    """Restore in place; returns (step, extra) or None when there is no checkpoint."""
    latest = Path(ckpt_dir) / "latest.json"
    if not latest.exists():
        return None
    folder = Path(ckpt_dir) / json.loads(latest.read_text())["folder"]
    tensors = load_file(str(folder / "state.safetensors"))
    meta = json.loads((folder / "state.json").read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    opt.load_state_dict(_opt_unflatten(tensors, meta["optimizer"], device))
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    return meta["step"], meta["extra"]
