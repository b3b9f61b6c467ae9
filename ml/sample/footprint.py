"""What a `sample` job takes from its worker (ml/footprint.py), from `ml.sample.runner.run`'s arrays.

With n = n_samples, b = min(batch_size, n), and a gmm model of K components in d dimensions:

    memory = 16 n d              x_T, the finished chunks, their concatenation and its float32 copy
           + 24 b K d            float64 [b, K, d] working tensors of `GaussianMixture.eps_x0`
                                 (diff, its square, scaled: 3 x 8 bytes)
           + 64 b d              float64 solver state of a chunk (x, model outputs of multistep solvers)
           + 1 GB runtime
    files  = 2 (samples.npy, samples.png) + save_noise
           + (2 chunks + 1 when n > b: each chunk a checkpoint part of two files, and the manifest)

A trained lab model's own size was admitted with the `train` job that made it; its data dimension is read
from its file at run time, so only the gmm terms are counted for it.

A diffusers UNet of your own is priced from its folder's headers (ml/inputs.py: unet/config.json and the
safetensors header, nothing loaded). With P its parameters, W the bytes of its weights file, d = C H W its
image's values and F the values its resnets produce per image (`unet_values`: level l of block_out_channels
runs layers_per_block resnets down and layers_per_block + 1 up, at c_l channels on ceil(H / 2^l) x
ceil(W / 2^l)):

    memory = 16 n d + 64 b d             as above, with d = C H W
           + 4 P + W                     the float32 network, and the file's tensors read before they are copied in
           + 12 b F                      a chunk's pass through the UNet without gradients: the skip connections
                                         the up path keeps and the block at work (measured 11 bytes per value)
           + 24 b A_max                  the attention layer at work: its input, group norm, q, k, v and output
                                         (4 bytes each) of A_max = c_l x ceil(H / 2^l) x ceil(W / 2^l) values, the
                                         largest over the attention layers (`attention_values`): a bound, as
                                         the block at work is part of 12 b F too (a pass without gradients of
                                         the 32 x 32 UNet of tests/ml/sample/test_attention_footprint.py, batch
                                         64, peaked no higher with its three attention layers than without)

Attention maps: diffusers' attention processor (AttnProcessor2_0) calls torch's scaled_dot_product_attention,
which on a CPU in float32 runs PyTorch's fused flash kernel (`_scaled_dot_product_flash_attention_for_cpu`):
it keeps the output and a logsumexp per query (b x heads x S floats), never the heads x S x S map, so no
S^2 term is counted. On CUDA the flash kernel takes half precision only; float32 goes to the
memory-efficient kernel, also without the map (PyTorch's documentation; not measured here). Where PyTorch
falls back to its math kernel (`torch.nn.attention.sdpa_kernel` forcing it, an unsupported shape) the map costs
b x heads x S^2 x 9 bytes per layer (the scores, their softmax and a mask of infinities), which this
estimate does not count: tests/ml/sample/test_attention_footprint.py checks the fused kernel is what runs.
"""
from __future__ import annotations

import math

from ml.footprint import Footprint, Term, ceil_div, term
from ml.inputs import ModelFiles
from ml.sample.params import GmmModel, Params

UNET = "unet/config.json"
INFER_BYTES = 12  # per resnet value, no gradients (measured 11.0 on a 6 M-parameter UNet2DModel at 64 x 64)
ATTENTION_AT_WORK = 24  # per value of the attention layer at work: 6 tensors of 4 bytes
# diffusers' defaults for a config that leaves a key out (save_pretrained writes them all)
DEFAULT_BLOCKS = {"UNet2DModel": (("DownBlock2D",) + ("AttnDownBlock2D",) * 3, ("AttnUpBlock2D",) * 3 + ("UpBlock2D",),
                                  "UNetMidBlock2D"),
                  "UNet2DConditionModel": (("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                                           ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, "UNetMidBlock2DCrossAttn")}


def unet_values(cfg: dict) -> tuple[tuple[int, int, int], int]:
    """((C, H, W) of an image, F the values the UNet's resnets produce for one), from unet/config.json (its
    keys as save_pretrained writes them; diffusers' defaults where one is missing)."""
    size = cfg.get("sample_size") or 64
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    per_block = int(cfg.get("layers_per_block", 2))
    values = sum(int(c) * math.ceil(h / 2 ** level) * math.ceil(w / 2 ** level) * (2 * per_block + 1)
                 for level, c in enumerate(cfg.get("block_out_channels", (224, 448, 672, 896))))
    return (int(cfg.get("in_channels", 3)), h, w), values


def attention_values(cfg: dict) -> list[int]:
    """The values (c_l x positions) each attention layer of the UNet takes in for one image: a down block
    with "Attn" in its type has layers_per_block of them at its level, an up block layers_per_block + 1, the mid
    block one at the last level (unless `add_attention` is false or there is no mid block); a cross-attention
    block's transformer_layers_per_block multiply its layers, each counted as one self-attention layer (its
    cross-attention and feed-forward are not: docs/admission.md)."""
    size = cfg.get("sample_size") or 64
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    chans = [int(c) for c in cfg.get("block_out_channels", (224, 448, 672, 896))]
    at = [c * math.ceil(h / 2 ** level) * math.ceil(w / 2 ** level) for level, c in enumerate(chans)]
    down, up, mid = DEFAULT_BLOCKS.get(cfg.get("_class_name"), DEFAULT_BLOCKS["UNet2DModel"])
    per_block, depth = int(cfg.get("layers_per_block", 2)), cfg.get("transformer_layers_per_block", 1)
    depth = max(depth) if isinstance(depth, (list, tuple)) else int(depth)

    def layers(kind: str) -> int:
        return 0 if "Attn" not in kind else depth if "CrossAttn" in kind else 1

    out = []
    for level, kind in enumerate(cfg.get("down_block_types", down)):
        out += [at[level]] * per_block * layers(kind)
    for i, kind in enumerate(cfg.get("up_block_types", up)):
        out += [at[len(at) - 1 - i]] * (per_block + 1) * layers(kind)
    mid = cfg.get("mid_block_type", mid)
    if mid is not None and cfg.get("add_attention", True):
        out += [at[-1]] * max(1, layers(mid))
    return out


def unet_sizes(model) -> dict | None:
    """P, W, (C, H, W) and F of a diffusers folder; None for any other model."""
    if not isinstance(model, ModelFiles) or UNET not in model.configs:
        return None
    shape, values = unet_values(model.configs[UNET])
    return {"parameters": model.parameters("unet"), "file_bytes": model.file_bytes("unet"), "shape": shape,
            "values": values, "attention": attention_values(model.configs[UNET])}


def unet_weights(unet: dict, unit: int, unit_text: str, procs=None) -> list[Term]:
    """The network's copies (`unit` bytes per parameter) and its file's tensors as read."""
    lead = (procs,) if procs else ()
    return [term(*lead, ("parameters", "model", unet["parameters"]), unit=unit, unit_text=unit_text),
            term(*lead, ("weights file bytes", "model", unet["file_bytes"]))]


def footprint(p: Params, inputs: dict | None = None) -> Footprint:
    n, b = p.n_samples, min(p.batch_size, p.n_samples)
    memory = []
    unet = unet_sizes((inputs or {}).get("model"))
    if unet is not None:
        d = math.prod(unet["shape"])
        memory = [term(("n_samples", "n_samples", n), ("values per image", "model", d), unit=16, unit_text="16 bytes"),
                  term(("batch", "batch_size", b), ("values per image", "model", d), unit=64,
                       unit_text="8 bytes x 8 solver states"),
                  *unet_weights(unet, 4, "4 bytes (float32)"),
                  term(("batch", "batch_size", b), ("UNet values per image", "model", unet["values"]),
                       unit=INFER_BYTES, unit_text=f"{INFER_BYTES} bytes")]
        if unet["attention"]:
            memory.append(term(("batch", "batch_size", b), ("largest attention layer's values", "model",
                                                            max(unet["attention"])),
                               unit=ATTENTION_AT_WORK, unit_text=f"{ATTENTION_AT_WORK} bytes"))
    if isinstance(p.model, GmmModel):
        k, d = len(p.model.means), len(p.model.means[0])
        memory = [term(("n_samples", "n_samples", n), ("dim", "model.means", d), unit=16, unit_text="16 bytes"),
                  term(("batch", "batch_size", b), ("components", "model.means", k), ("dim", "model.means", d),
                       unit=24, unit_text="8 bytes x 3 working copies"),
                  term(("batch", "batch_size", b), ("dim", "model.means", d), unit=64, unit_text="8 bytes x 8 solver states")]
    chunks = ceil_div(n, b)
    files = [Term(2 + int(p.save_noise), "samples" + (", noise" if p.save_noise else "") + " and plot", ())]
    if chunks > 1:
        files.append(Term(2 * chunks + 1, f"2 x (n_samples {n} / batch_size {b} = {chunks} checkpoint chunks) + 1",
                          ("n_samples", "batch_size")))
    return Footprint(memory, Term(1, "1 process", ()), files)
