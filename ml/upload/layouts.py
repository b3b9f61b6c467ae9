"""Which files a model folder of each format holds, checked on the names alone (before anything is unpacked).

- `diffusers`: `unet/` (config.json + safetensors weights) and `scheduler/` (scheduler_config.json), as
  `save_pretrained` writes them; a whole pipeline's other parts (vae/, text_encoder/...) are not used by
  `sample` and are refused rather than stored for nothing.
- `transformers`: config.json, safetensors weights (sharded with their index, or one file) and a tokenizer.
- `lab`: model.safetensors + model.json, as the lab's own jobs and `python -m ml.<kind> --out` write them.

Pickled weights (`.bin`, `.pt`, ...) are refused in every format with the way to save safetensors instead:
loading a pickle runs whatever code it holds.
"""
from __future__ import annotations

import fnmatch

from .archive import BadUpload

PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npz")
ANYWHERE = ("README.md", "LICENSE", "LICENSE.txt", "LICENSE.md", ".gitattributes")
TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
             "tokenizer.model", "added_tokens.json", "vocab.txt", "chat_template.jinja", "chat_template.json")
# a tokenizer is one of these (the others only configure one)
TOKENIZER_CORE = ("tokenizer.json", "vocab.json", "tokenizer.model", "vocab.txt")

# format -> (patterns a file may match, [(what is required, patterns of which one must be present)])
LAYOUTS: dict[str, tuple[tuple[str, ...], list[tuple[str, tuple[str, ...]]]]] = {
    "diffusers": (("model_index.json", "unet/config.json", "unet/*.safetensors", "unet/*.safetensors.index.json",
                   "scheduler/scheduler_config.json"),
                  [("unet/config.json", ("unet/config.json",)),
                   ("unet/ weights in safetensors", ("unet/*.safetensors",)),
                   ("scheduler/scheduler_config.json", ("scheduler/scheduler_config.json",))]),
    "transformers": (("config.json", "generation_config.json", "*.safetensors", "model.safetensors.index.json",
                      *TOKENIZER),
                     [("config.json", ("config.json",)),
                      ("weights in safetensors", ("*.safetensors",)),
                      ("tokenizer (tokenizer.json, or vocab files)", TOKENIZER_CORE)]),
    "lab": (("model.safetensors", "model.json"),
            [("model.safetensors", ("model.safetensors",)), ("model.json", ("model.json",))]),
}
SAVE_HINT = {
    "diffusers": "save with unet.save_pretrained('unet', safe_serialization=True) and "
                 "scheduler.save_pretrained('scheduler')",
    "transformers": "save with model.save_pretrained(folder, safe_serialization=True) and "
                    "tokenizer.save_pretrained(folder)",
    "lab": "use the folder a lab job or `python -m ml.<kind> --out` wrote",
}


def _matches(name: str, patterns) -> bool:
    # fnmatch's * crosses '/': compare folder depth too, so "*.safetensors" means the top folder only
    return any(fnmatch.fnmatchcase(name, p) and name.count("/") == p.count("/") for p in patterns)


def check_names(fmt: str, names: list[str], label: str) -> None:
    """BadUpload naming the first pickle, unknown file or missing part of a `fmt` folder."""
    allowed, required = LAYOUTS[fmt]
    pickled = sorted(n for n in names if n.lower().endswith(PICKLED))
    if pickled:
        raise BadUpload(f"{label}: {', '.join(pickled[:5])}: pickled files are refused (loading a pickle runs the "
                        f"code it holds); weights are read from safetensors only: {SAVE_HINT[fmt]}")
    unknown = [n for n in names if n.rsplit("/", 1)[-1] not in ANYWHERE and not _matches(n, allowed)]
    parts = sorted({n.split("/", 1)[0] for n in unknown if "/" in n})
    if fmt == "diffusers" and parts:
        raise BadUpload(f"{label}: {', '.join(p + '/' for p in parts[:5])}: `sample` runs the UNet alone "
                        "(unconditionally), so a pipeline's other parts are not used: zip unet/ and scheduler/ "
                        "(and model_index.json) only")
    if unknown:
        raise BadUpload(f"{label}: {', '.join(sorted(unknown)[:5])}: not part of a {fmt} folder (it holds "
                        f"{', '.join(allowed)}); remove {'it' if len(unknown) == 1 else 'them'} and zip again")
    for what, patterns in required:
        if not any(_matches(n, patterns) for n in names):
            raise BadUpload(f"{label}: no {what} in this {fmt} folder; {SAVE_HINT[fmt]}, then zip the folder")
