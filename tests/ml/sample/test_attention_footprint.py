"""Attention inside a diffusers UNet in the admission estimates (ml/sample/footprint.py's `attention_values`,
ml/train/footprint.py's attention term): the layers counted are the model's own, the kernel PyTorch runs for
diffusers' attention processor on a CPU is the fused one the estimate assumes (no heads x S x S map), and the
memory a `train` job really takes grows with its attention layers as the estimate says.

The tolerance of the measured test: the term counts each of the 8 tensors an attention layer keeps for backward
alive together with its gradient; backward frees a layer's saved tensors as it passes it and makes that layer's
gradients then, so the real growth lies between the saved tensors alone (half the term) and all of it, plus
MEASURED_SLACK (the kernel's own workspace, and VmHWM's spread between runs)."""
import json
import math

import numpy as np
import pytest
import torch

from ml.inputs import local_model
from ml.sample.footprint import attention_values, unet_sizes
from tests.ml.peak_rss import peak_rss_bytes

SIZE, CHANNELS, BATCH = 32, (32, 64), 32


def make_folder(root, attention: bool):
    """A UNet2DModel on 32 x 32 grey images: with attention at full resolution (one down, two up layers) or
    without (its mid block's attention alone), and a DDPM scheduler."""
    import diffusers

    torch.manual_seed(0)
    down, up = (("AttnDownBlock2D", "DownBlock2D"), ("UpBlock2D", "AttnUpBlock2D")) if attention else \
        (("DownBlock2D", "DownBlock2D"), ("UpBlock2D", "UpBlock2D"))
    diffusers.UNet2DModel(sample_size=SIZE, in_channels=1, out_channels=1, block_out_channels=CHANNELS,
                          down_block_types=down, up_block_types=up, layers_per_block=1, attention_head_dim=8,
                          norm_num_groups=8).save_pretrained(root / "unet", safe_serialization=True)
    diffusers.DDPMScheduler().save_pretrained(root / "scheduler")
    return root


def test_the_attention_layers_counted_are_those_diffusers_builds(tmp_path):
    import diffusers

    folder = make_folder(tmp_path / "attn", attention=True)
    unet = diffusers.UNet2DModel.from_pretrained(str(folder / "unet"), use_safetensors=True, local_files_only=True)
    seen = []  # the values of each attention layer's input, as the model runs
    for m in unet.modules():
        if isinstance(m, diffusers.models.attention_processor.Attention):
            m.register_forward_pre_hook(lambda _m, args: seen.append(args[0][0].numel()))
    with torch.no_grad():
        unet(torch.zeros(1, 1, SIZE, SIZE), torch.tensor([10]))
    cfg = json.loads((folder / "unet" / "config.json").read_text())
    assert sorted(attention_values(cfg)) == sorted(seen) and len(seen) == 4  # 1 down, 2 up, the mid block's
    assert unet_sizes(local_model(folder))["attention"] == attention_values(cfg)


def test_on_a_cpu_diffusers_attention_runs_the_fused_kernel_that_holds_no_attention_map():
    from diffusers.models.attention_processor import Attention
    from torch.profiler import ProfilerActivity, profile

    b, heads, head_dim, side = 4, 4, 8, 32
    attn = Attention(heads * head_dim, heads=heads, dim_head=head_dim, norm_num_groups=8, residual_connection=True,
                     bias=True, upcast_softmax=True, _from_deprecated_attn_block=True)
    x = torch.randn(b, heads * head_dim, side, side)
    with torch.no_grad(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        attn(x)
    ops = {e.key: e for e in prof.key_averages()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops, sorted(ops)
    assert "aten::_softmax" not in ops and "aten::bmm" not in ops  # the math kernel's scores and softmax
    s = side * side
    # what the kernel allocates: its output and a logsumexp per query, far below one b x heads x S x S map
    fused = ops["aten::_scaled_dot_product_flash_attention_for_cpu"].cpu_memory_usage
    assert fused <= 4 * b * s * heads * (head_dim + 1) * 1.1 < 4 * b * heads * s * s / 50, fused


def train_params(folder, images):
    return {"objective": "vp_eps", "model": {"path": str(folder)}, "data": {"path": str(images)}, "steps": 1,
            "batch_size": BATCH, "warmup_steps": 0, "eval_every": 1000, "checkpoint_every": 1000, "eval_samples": 16,
            "ref_nfe": 10, "device": "cpu"}


def test_training_grows_with_the_attention_layers_as_estimated(tmp_path):
    from ml.inputs import local_inputs
    from ml.train.footprint import footprint
    from ml.train.params import Params

    images = tmp_path / "images.npy"
    np.save(images, np.random.default_rng(0).uniform(-1, 1, (256, 1, SIZE, SIZE)).astype(np.float32))
    runs = {}
    for attention in (False, True):
        folder = make_folder(tmp_path / f"unet{int(attention)}", attention)
        params = train_params(folder, images)
        p = Params.model_validate(params)
        est = footprint(p, local_inputs(p, {"model": str(folder), "data": str(images)})).memory_bytes
        runs[attention] = est, peak_rss_bytes("train", params, tmp_path, f"train{int(attention)}")
    grown, estimated = runs[True][1] - runs[False][1], runs[True][0] - runs[False][0]
    # 3 more attention layers of 32 x 1024 values: 32 images x 98,304 values x 64 bytes = 0.20 GB estimated
    assert math.isclose(estimated, 64 * 3 * CHANNELS[0] * SIZE ** 2 * BATCH, rel_tol=0.01)
    assert estimated / 2 <= grown <= estimated + MEASURED_SLACK, (runs, grown, estimated)


# Above the term, a measured difference may also hold: the fused kernel's own output and logsumexp while one
# layer runs (4 bytes x 32 images x 1024 queries x 4 heads x 9 = 4.7 MB), and the spread of VmHWM between runs
# of the same training (807-840 MB over 4 runs, so up to ~35 MB on a difference of two)
MEASURED_SLACK = 4 * BATCH * SIZE ** 2 * 4 * 9 + 35_000_000
