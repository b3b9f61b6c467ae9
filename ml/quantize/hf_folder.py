"""A transformers causal-LM folder (as `save_pretrained` writes it), opened block by block.

The model is built with every decoder block on the meta device (no memory), the parts outside the
blocks (embeddings, final norm, head) are loaded at once, and each block is built and filled from the
safetensors files only when it is needed, in fp32. So at most one block is in fp32 working memory, and
a model whose fp32 copy does not fit still runs. Weights are read with `safetensors.safe_open` (tensor
by tensor, never unpickled); a folder with `.bin` / `.pt` weights is refused.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                   "tokenizer.model", "added_tokens.json")
PICKLED = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


class BadModelFolder(ValueError):
    pass


def is_transformers_folder(path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / "config.json").is_file() and not (p / "model.json").is_file()


def has_model_json(path) -> bool:
    p = Path(path)
    return (p / "model.json").is_file() or (p.is_file() and p.name == "model.json")


def check_folder(path) -> Path:
    """The folder, or BadModelFolder saying what a researcher must fix."""
    p = Path(path)
    if not p.is_dir():
        raise BadModelFolder(f"model: {p} is not a folder")
    if not (p / "config.json").is_file():
        raise BadModelFolder(f"model: no config.json in {p}: give the folder that save_pretrained wrote")
    pickled = sorted(f.name for f in p.iterdir() if f.suffix in PICKLED)
    if pickled:
        raise BadModelFolder(f"model: {', '.join(pickled)}: pickled weights are refused (loading them could run "
                             f"code); save with save_pretrained(..., safe_serialization=True) for .safetensors")
    if not list(p.glob("*.safetensors")):
        raise BadModelFolder(f"model: no .safetensors weights in {p}")
    if not any((p / f).is_file() for f in TOKENIZER_FILES):
        raise BadModelFolder(f"model: no tokenizer in {p} (tokenizer.json or vocab files): save the tokenizer with "
                             f"tokenizer.save_pretrained into the same folder")
    return p


class Weights:
    """Tensor name -> tensor, read lazily from the folder's safetensors file(s)."""

    def __init__(self, folder: Path):
        from safetensors import safe_open
        index = folder / "model.safetensors.index.json"
        files = sorted({folder / f for f in json.loads(index.read_text())["weight_map"].values()}) if index.is_file() \
            else sorted(folder.glob("*.safetensors"))
        self._handles = [safe_open(str(f), "pt") for f in files]
        self._where = {k: h for h in self._handles for k in h.keys()}

    def names(self):
        return self._where.keys()

    def get(self, name: str) -> torch.Tensor:
        return self._where[name].get_tensor(name)

    def numel(self) -> int:
        """Parameters in the files, from the headers (no tensor is read)."""
        return sum(math.prod(h.get_slice(k).get_shape()) for k, h in self._where.items())

    def dtype(self) -> torch.dtype:
        return self.get(next(iter(self._where))).dtype


def decoder_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The ModuleList of decoder blocks: the longest list of same-typed modules (transformer.h, model.layers, ...)."""
    best = None
    for name, m in model.named_modules():
        if isinstance(m, nn.ModuleList) and len(m) and len({type(b) for b in m}) == 1:
            if best is None or len(m) > len(best[1]):
                best = (name, m)
    if best is None:
        raise BadModelFolder("model: no list of decoder blocks found; only decoder-only causal LMs are supported")
    return best


@dataclass
class LazyLM:
    """The model with blocks on the meta device until `load_block`; `layers_name.i` names block i."""
    model: nn.Module
    config: object
    weights: Weights
    layers_name: str
    n_blocks: int
    folder: Path

    @property
    def layers(self) -> nn.ModuleList:
        return self.model.get_submodule(self.layers_name)

    def block_name(self, i: int) -> str:
        return f"{self.layers_name}.{i}"

    def fresh_block(self, i: int) -> nn.Module:
        """Block i built on the CPU from its class (its weights still random)."""
        cls = type(self.layers[i])
        try:
            return cls(self.config, layer_idx=i)
        except TypeError:
            return cls(self.config)

    def load_block(self, i: int) -> nn.Module:
        """Block i in fp32 with its checkpoint weights, put in place of its meta copy; returns it."""
        block = self.fresh_block(i).float()
        _fill(block, self.block_name(i) + ".", self.weights)
        self.layers[i] = block.eval()
        return block

    def unload_block(self, i: int) -> None:
        self.layers[i] = self.layers[i].to("meta")


def _fill(module: nn.Module, prefix: str, weights: Weights, allowed_missing=()) -> None:
    state = {}
    names = set(weights.names())
    for k, v in module.state_dict().items():
        if prefix + k in names:
            state[k] = weights.get(prefix + k).float()
        elif k not in allowed_missing:
            raise BadModelFolder(f"model: tensor {prefix + k} missing from the safetensors files (is the folder "
                                 f"from this transformers version's save_pretrained?)")
    module.load_state_dict(state, strict=False, assign=False)


def skeleton(config) -> tuple[nn.Module, str]:
    """The fp32 model of `config` with its decoder blocks on the meta device (building them would allocate
    every block at once), and the blocks' ModuleList name."""
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            meta = AutoModelForCausalLM.from_config(config)
    except (ValueError, KeyError, OSError) as e:
        raise BadModelFolder(f"model: config.json does not describe a causal LM transformers knows: {e}") from e
    layers_name, layers = decoder_layers(meta)
    block_cls = type(layers[0])
    original = block_cls.__init__

    def on_meta(self, *a, **kw):
        with torch.device("meta"):
            original(self, *a, **kw)

    block_cls.__init__ = on_meta
    try:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    finally:
        block_cls.__init__ = original
    return model.eval(), layers_name


def tied_keys(model: nn.Module) -> dict:
    """{name: the earlier name of the same tensor} (the LM head tied to the embedding)."""
    seen, tied = {}, {}
    for k, v in model.state_dict(keep_vars=True).items():
        if v.device.type == "meta":
            continue
        key = (v.data_ptr(), v.shape, v.dtype)
        if key in seen:
            tied[k] = seen[key]
        else:
            seen[key] = k
    return tied


def open_lm(path) -> LazyLM:
    """Config, tokenizer check and a LazyLM with the non-block weights loaded."""
    from transformers import AutoConfig

    folder = check_folder(path)
    try:
        config = AutoConfig.from_pretrained(folder)
    except (ValueError, KeyError, OSError) as e:
        raise BadModelFolder(f"model: config.json does not describe a model transformers knows: {e}") from e
    model, layers_name = skeleton(config)
    weights = Weights(folder)
    names = set(weights.names())
    tied = tied_keys(model)
    outside = {k: v for k, v in model.state_dict().items() if not k.startswith(layers_name + ".")}
    missing = [k for k in outside if k not in names and k not in tied]
    if missing:
        raise BadModelFolder(f"model: tensors {missing[:5]} missing from the safetensors files")
    with torch.no_grad():
        for k, v in outside.items():
            if k in names and k not in tied:
                v.copy_(weights.get(k).float())
    return LazyLM(model, config, weights, layers_name, len(model.get_submodule(layers_name)), folder)


def quantized_lm(config_dict: dict, layers: dict) -> nn.Module:
    """The model of a packed quantized LM (model.json's transformers_config), built block by block with the
    quantized layers of `layers` in place, its tensors still to be loaded."""
    from transformers import AutoConfig

    d = dict(config_dict)
    config = AutoConfig.for_model(d.pop("model_type"), **d)
    model, layers_name = skeleton(config)
    blocks = model.get_submodule(layers_name)
    lm = LazyLM(model, config, None, layers_name, len(blocks), Path("."))
    for i in range(len(blocks)):
        blocks[i] = quantized_block(lm, i, layers).eval()
    return model


def quantized_block(lm: LazyLM, i: int, layers: dict) -> nn.Module:
    """Block i built with the quantized layers of `layers` (names from the model's root) swapped in."""
    from ml.quantize.packed import layer_from_spec, set_module

    block = lm.fresh_block(i).float()
    prefix = lm.block_name(i) + "."
    for name, spec in layers.items():
        if name.startswith(prefix):
            set_module(block, name[len(prefix):], layer_from_spec(spec))
    return block
