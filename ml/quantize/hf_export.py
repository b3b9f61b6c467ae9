"""`model.zip`: the quantized LM as a folder `AutoModelForCausalLM.from_pretrained` loads, its linear layers
holding the dequantized weights (fp32), beside the tokenizer and config it came with. A researcher reloads it
with their own tools and recomputes our perplexity.

The weights are written one shard per decoder block (plus one for the rest), with the
`model.safetensors.index.json` transformers reads sharded checkpoints from, so no moment holds a full fp32
copy. Tensor names are those of the source checkpoint; GPT-2's Conv1D weights go back to [in, out].
"""
from __future__ import annotations

import copy
import itertools
import shutil
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from ml.durable import replace_with, write_json
from ml.quantize.hf_folder import TOKENIZER_FILES
from ml.quantize.packed import QuantLinear

EXTRA_FILES = TOKENIZER_FILES + ("generation_config.json",)


def dequantized_state(module: torch.nn.Module, prefix: str, transposed: set, gptq: bool = False) -> dict:
    """The module's state with every QuantLinear as a plain weight (+ bias), names from the model's root;
    with `gptq`, as GPTQ's packed tensors and everything else in fp16 (hf_gptq.py)."""
    if gptq:
        from ml.quantize.hf_gptq import gptq_tensors
    state = {}
    quant = {n: m for n, m in module.named_modules() if isinstance(m, QuantLinear)}
    for k, v in module.state_dict().items():
        owner = k.rpartition(".")[0]
        if owner not in quant:
            state[prefix + k] = v.detach().to(torch.float16 if gptq else torch.float32).contiguous()
    for n, m in quant.items():
        full = prefix + n if n else prefix.rstrip(".")
        if gptq:
            state.update(gptq_tensors(m, full))
            continue
        w = m.weight_2d().detach()
        state[full + ".weight"] = (w.T if full in transposed else w).contiguous()
        if m.bias is not None:
            state[full + ".bias"] = m.bias.detach().float().contiguous()
    return state


def write_dequantized(lm, rows: list[dict], tied: dict, dest, gptq: dict | None = None) -> Path:
    """The from_pretrained folder of the quantized model `lm.model` at `dest`; with `gptq` (its
    quantization_config) in GPTQ's layout instead of dequantized."""
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    transposed = {r["name"] for r in rows if r.get("stored_transposed")}
    blocks = lm.layers
    parts = [(f"{lm.block_name(i)}.", blocks[i]) for i in range(len(blocks))]
    # the parts outside the blocks: the model's state minus every block's keys (they are written per block)
    dtype = torch.float16 if gptq else torch.float32
    outside = {k: v.detach().to(dtype).contiguous() for k, v in lm.model.state_dict().items()
               if not k.startswith(lm.layers_name + ".") and k not in tied}
    # one block's dequantized tensors at a time: the whole model in fp32 need not fit (as when it was quantized)
    blockwise = ({k: v for k, v in dequantized_state(b, p, transposed, gptq is not None).items() if k not in tied}
                 for p, b in parts)
    shards = itertools.chain([outside], blockwise)
    n = 1 + len(parts)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        save_file(shard, str(dest / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in shard})
        total += sum(t.numel() * t.element_size() for t in shard.values())
        del shard  # before the next block's tensors are made
    write_json(dest / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})
    config = copy.deepcopy(lm.config)
    # the dequantized weights are fp32: what our perplexity was measured with; GPTQ kernels run fp16
    config.dtype = dtype
    if gptq:
        config.quantization_config = gptq
    config.save_pretrained(dest)
    for f in EXTRA_FILES:
        if (lm.folder / f).is_file():
            shutil.copy2(lm.folder / f, dest / f)
    return dest


def zip_folder(folder, zip_path, arcname: str = "model") -> Path:
    """Zip `folder` as `arcname/...` (stored, not deflated: safetensors weights barely compress)."""
    folder, zip_path = Path(folder), Path(zip_path)

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for f in sorted(folder.iterdir()):
                z.write(f, f"{arcname}/{f.name}")

    replace_with(zip_path, write)
    return zip_path

