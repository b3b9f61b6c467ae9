"""The one checkpoint format of every kind: what a job resumes from after a kill, a retry or a move.

Layout of a checkpoint folder (each runner's is `<out_dir>/checkpoint/`):

    step-<k>/tensors.safetensors   tensors of step k (safetensors: never pickle)
    step-<k>/meta.json             JSON of step k (optimizer scalars, counters, anything small)
    manifest.json                  written last: the step and the part folders that make it up

A step is complete once `manifest.json` names it; until then a resume sees the previous one,
so a kill between two files can never pair the weights of one step with the state of another.
A checkpoint is usually one part (a training step replaces the last); a job that grows its
checkpoint piece by piece (sample's chunks, quantize's layers) `carry`s the earlier parts.
Parts no manifest names any more are removed after the manifest is written.

`pack` / `unpack` turn modules, an optimizer and generators into (tensors, meta) and back, so
a resumed run continues bit for bit: weights, EMA, optimizer moments and every RNG.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ml.durable import fsync_folder, replace_with, write_json
from ml.finite import check_tensors

MANIFEST = "manifest.json"
TENSORS = "tensors.safetensors"
META = "meta.json"


@dataclass
class Checkpoint:
    step: int
    tensors: dict
    meta: dict


def manifest(folder) -> dict | None:
    """The newest complete step's manifest ({"step", "parts"}), or None when there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def save(folder, step: int, tensors: dict, meta: dict | None = None, carry: bool = False) -> Path:
    """Write step `step`; with `carry` the earlier parts stay part of it (their tensor names must differ).
    Refuses (ml.finite.Diverged) floating tensors holding nan/inf, so a good checkpoint is never replaced
    by a diverged one."""
    folder = Path(folder)
    check_tensors(tensors.values(), "the weights", f"at step {step}; the last finite checkpoint is kept")
    part = folder / f"step-{step}"
    shutil.rmtree(part, ignore_errors=True)  # a half-written part of an earlier, killed attempt at this step
    part.mkdir(parents=True)
    replace_with(part / TENSORS, lambda tmp: save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                                                          str(tmp)))
    write_json(part / META, {"step": step, "meta": meta or {}})
    fsync_folder(part)
    before = manifest(folder)
    parts = [p for p in (before or {}).get("parts", []) if p != part.name] if carry else []
    write_json(folder / MANIFEST, {"step": step, "parts": parts + [part.name]})
    keep = set(parts) | {part.name}
    for old in folder.glob("step-*"):
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return part


def load(folder) -> Checkpoint | None:
    """The newest complete checkpoint: the tensors of all its parts, the meta of its last part."""
    m = manifest(folder)
    if m is None:
        return None
    tensors, meta = {}, {}
    for name in m["parts"]:
        tensors.update(load_file(str(Path(folder) / name / TENSORS)))
        meta = json.loads((Path(folder) / name / META).read_text())["meta"]
    return Checkpoint(m["step"], tensors, meta)


def pack(modules: dict, optimizer=None, generators: dict | None = None) -> tuple[dict, dict]:
    """(tensors, meta) of named modules, an optimizer and named torch.Generators (plus torch's global RNG)."""
    tensors = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    meta: dict = {}
    if optimizer is not None:
        sd = optimizer.state_dict()
        scalars = {}
        for idx, st in sd["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"opt.{idx}.{k}"] = v
                else:
                    scalars[f"{idx}.{k}"] = v
        meta["optimizer"] = {"param_groups": sd["param_groups"], "scalars": scalars}
    for name, g in (generators or {}).items():
        tensors[f"rng.{name}"] = g.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors, meta


def unpack(ckpt: Checkpoint, modules: dict, optimizer=None, generators: dict | None = None, device="cpu") -> None:
    """Restore in place what `pack` saved."""
    t = ckpt.tensors
    for name, module in modules.items():
        pre = f"{name}."
        module.load_state_dict({k[len(pre):]: v for k, v in t.items() if k.startswith(pre)})
    if optimizer is not None:
        state: dict = {}
        for key, v in t.items():
            if key.startswith("opt."):
                _, idx, k = key.split(".", 2)
                state.setdefault(int(idx), {})[k] = v if k == "step" else v.to(device)
        for key, v in ckpt.meta["optimizer"]["scalars"].items():
            idx, k = key.split(".", 1)
            state.setdefault(int(idx), {})[k] = v
        optimizer.load_state_dict({"state": state, "param_groups": ckpt.meta["optimizer"]["param_groups"]})
    for name, g in (generators or {}).items():
        g.set_state(t[f"rng.{name}"])
    torch.set_rng_state(t["rng.torch"])
