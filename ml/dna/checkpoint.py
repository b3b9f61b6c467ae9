"""Resumable checkpoints for DNA jobs: tensors in safetensors, the rest in JSON, written then renamed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ml.finite import check_tensors


def _flatten_opt(opt) -> tuple[dict, dict]:
    sd = opt.state_dict()
    tensors, meta = {}, {"param_groups": sd["param_groups"], "state": {}}
    for pid, st in sd["state"].items():
        meta["state"][str(pid)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                meta["state"][str(pid)][k] = v
    return tensors, meta


def save(ckpt_dir, step: int, modules: dict, opt, extra: dict | None = None) -> None:
    ckpt_dir = Path(ckpt_dir)
    tensors, meta = _flatten_opt(opt)
    for name, m in modules.items():
        tensors.update({f"{name}.{k}": v.detach().cpu().contiguous() for k, v in m.state_dict().items()})
    check_tensors(tensors.values(), "the weights", f"at step {step}; the last finite checkpoint is kept")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(ckpt_dir / "state.safetensors.tmp"))
    os.replace(ckpt_dir / "state.safetensors.tmp", ckpt_dir / "state.safetensors")
    (ckpt_dir / "state.json.tmp").write_text(json.dumps({"step": step, "opt": meta, "extra": extra or {}}))
    os.replace(ckpt_dir / "state.json.tmp", ckpt_dir / "state.json")


def load(ckpt_dir, modules: dict, opt) -> tuple[int, dict] | None:
    """Restores modules and optimizer in place; returns (step, extra) or None when there is no checkpoint."""
    ckpt_dir = Path(ckpt_dir)
    if not (ckpt_dir / "state.json").exists() or not (ckpt_dir / "state.safetensors").exists():
        return None
    meta = json.loads((ckpt_dir / "state.json").read_text())
    tensors = load_file(str(ckpt_dir / "state.safetensors"))
    for name, m in modules.items():
        pre = f"{name}."
        m.load_state_dict({k[len(pre):]: v for k, v in tensors.items() if k.startswith(pre)})
    state = {}
    for pid, st in meta["opt"]["state"].items():
        state[int(pid)] = dict(st)
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    opt.load_state_dict({"state": state, "param_groups": meta["opt"]["param_groups"]})
    return meta["step"], meta["extra"]
