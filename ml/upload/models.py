"""Load an unpacked model folder once, as the jobs that use it will, and describe it: config, parameter count
and dtype. Any failure is a BadUpload saying what is wrong in the folder's own terms."""
from __future__ import annotations

import json
from pathlib import Path

from .archive import BadUpload


def _safetensors_summary(files: list[Path], label: str) -> tuple[int, list[str]]:
    """(parameters, dtypes) from the files' headers: a file that is not safetensors is refused here."""
    import math

    from safetensors import safe_open

    total, dtypes = 0, set()
    for f in files:
        try:
            with safe_open(str(f), "pt") as h:
                for k in h.keys():
                    s = h.get_slice(k)
                    total += math.prod(s.get_shape())
                    dtypes.add(str(s.get_dtype()))
        except Exception as exc:  # safetensors raises its own SafetensorError for a bad header
            raise BadUpload(f"{label}: {f.name} is not a readable safetensors file ({exc})")
    return total, sorted(dtypes)


def _json(path: Path, label: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadUpload(f"{label}: {path.name} is not valid JSON ({exc})")
    if not isinstance(data, dict):
        raise BadUpload(f"{label}: {path.name} must hold a JSON object")
    return data


def describe_diffusers(folder: Path, label: str) -> dict:
    from ml.sample import diffusers_unet

    unet_config = _json(folder / "unet" / "config.json", label)
    _json(folder / "scheduler" / "scheduler_config.json", label)
    params, dtypes = _safetensors_summary(sorted((folder / "unet").glob("*.safetensors")), label)
    try:
        _net, cfg, _schedule = diffusers_unet.load(folder)
    except ValueError as exc:
        raise BadUpload(f"{label}: {exc}")
    return {"config": unet_config, "sample": {k: cfg[k] for k in ("arch", "prediction", "data_shape")},
            "parameters": int(cfg.get("parameters", params)), "dtype": dtypes[0] if len(dtypes) == 1 else dtypes}


def describe_transformers(folder: Path, label: str) -> dict:
    from ml.quantize import hf_folder

    config = _json(folder / "config.json", label)
    params, dtypes = _safetensors_summary(sorted(folder.glob("*.safetensors")), label)
    try:
        lm = hf_folder.open_lm(folder)
        for i in range(lm.n_blocks):  # every block's tensors are there and fit its class
            lm.load_block(i)
            lm.unload_block(i)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise BadUpload(f"{label}: {exc}")
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # transformers raises many kinds (OSError, ValueError, its own)
        raise BadUpload(f"{label}: the tokenizer does not load ({type(exc).__name__}: {exc})")
    return {"config": config, "parameters": params, "dtype": dtypes[0] if len(dtypes) == 1 else dtypes,
            "blocks": lm.n_blocks, "vocab_size": len(tok)}


def describe_lab(folder: Path, label: str) -> dict:
    from ml.modelio import load_model

    config = _json(folder / "model.json", label)
    params, dtypes = _safetensors_summary([folder / "model.safetensors"], label)
    try:
        load_model(folder)
    except Exception as exc:  # a model.json naming an arch or shapes its weights do not fit
        raise BadUpload(f"{label}: the lab cannot rebuild this model ({type(exc).__name__}: {exc})")
    return {"config": config, "parameters": params, "dtype": dtypes[0] if len(dtypes) == 1 else dtypes}


DESCRIBE = {"diffusers": describe_diffusers, "transformers": describe_transformers, "lab": describe_lab}
