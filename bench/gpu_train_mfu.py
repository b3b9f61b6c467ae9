"""Training throughput of the digits UNet on CUDA in bf16: samples/s and achieved TFLOP/s (MFU).

    python bench/gpu_train_mfu.py [--width 64] [--depth 2] [--batch 2048] [--steps 60] [--compile]

FLOPs per step are counted once with torch.utils.flop_counter (forward + backward of the 1-RF
loss, matmul/conv FLOPs only, as MFU is usually reported); achieved TFLOP/s = FLOPs/step x steps/s.
MFU is against the dense bf16 peak given by --peak-tflops (H200 SXM: 989). Runs in < 2 minutes;
on a machine without CUDA it runs a tiny CPU smoke version so the script itself stays tested.
Writes bench/results/gpu_train_mfu.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.nets.unet import unet8  # noqa: E402
from ml.train.flow import flow_loss, l2  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0)
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    if not cuda:  # smoke mode: same code path, tiny sizes
        args.batch, args.steps, args.warmup, args.width, args.depth = 32, 3, 1, 16, 1
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    net = unet8(1, args.width, args.depth).to(dev)
    n_params = sum(p.numel() for p in net.parameters())
    model = torch.compile(net) if args.compile else net
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, fused=cuda)
    g = torch.Generator(device=dev).manual_seed(0)
    x0 = torch.rand(args.batch, 1, 8, 8, device=dev, generator=g) * 2 - 1

    def step():
        z = torch.randn(x0.shape, device=dev, generator=g)
        t = torch.rand(args.batch, device=dev, generator=g)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = flow_loss(model, x0, z, t, l2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        z = torch.randn(x0.shape, device=dev)
        t = torch.rand(args.batch, device=dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = flow_loss(net, x0, z, t, l2).mean()
        loss.backward()
    flops = fc.get_total_flops()
    opt.zero_grad(set_to_none=True)
    for _ in range(args.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    if cuda:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    sps = args.steps * args.batch / dt
    tflops = flops * args.steps / dt / 1e12
    res = {"device": torch.cuda.get_device_name() if cuda else "cpu (smoke)", "width": args.width,
           "depth": args.depth, "batch": args.batch, "n_params": n_params, "compile": args.compile,
           "gflop_per_step": flops / 1e9, "samples_per_s": sps, "tflops": tflops,
           "mfu": tflops / args.peak_tflops if cuda else None, "final_loss": float(loss.detach())}
    print(json.dumps(res, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "gpu_train_mfu.json").write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
