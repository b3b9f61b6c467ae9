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

# --- sample ---
register("gmm_exact", "ml.sample.gmm_net:gmm_exact")  # the analytic mixture as a model file (tests, demos)

# --- train ---
register("mlp2d", "ml.nets.mlp:mlp2d")
register("unet8", "ml.nets.unet:unet8")

# --- quantize ---
register("char_transformer", "ml.nets.char_transformer:char_transformer")
register("digits_mlp", "ml.nets.digits_mlp:digits_mlp")

# --- dna ---
register("dnaconv", "ml.nets.dnaconv:dnaconv")
register("dna_oracle", "ml.nets.dna_oracle:dna_oracle")
