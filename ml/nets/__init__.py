"""Networks by name, so a `model.json` says how to rebuild its weights.

Each module registers its constructors in `ARCHS` below; a config's `arch` key
names one and `arch_kwargs` are its keyword arguments.
"""
from __future__ import annotations

import importlib

# name -> "module:function"; imported lazily so loading one model pulls in one module
ARCHS: dict[str, str] = {}


def register(name: str, target: str) -> None:
    ARCHS[name] = target


def build(arch: str, **kwargs):
    if arch not in ARCHS:
        raise ValueError(f"unknown network architecture {arch!r}; known: {sorted(ARCHS)}")
    module, fn = ARCHS[arch].split(":")
    return getattr(importlib.import_module(module), fn)(**kwargs)

# --- dna ---
register("dnaconv", "ml.nets.dnaconv:dnaconv")
register("dna_oracle", "ml.nets.dna_oracle:dna_oracle")
