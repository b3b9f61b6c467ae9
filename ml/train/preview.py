"""Preview PNGs: a scatter of samples over data for vectors (their first two coordinates), an image grid for
images."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # workers have no display
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def _plane(x):
    """Vectors shown by their first two coordinates (a 1-D one against 0)."""
    if x.dim() != 2 or x.shape[1] >= 2:
        return x
    return torch.cat([x, torch.zeros_like(x)], 1)


def _image(x):
    """imshow's arguments for one sample [C, H, W] (or the digits' 64 values): grey maps, colour as RGB."""
    x = x.reshape(1, 8, 8) if x.dim() == 1 else x
    if x.shape[0] == 3:
        return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy(), {}
    return x[0].clamp(-1, 1).numpy(), {"cmap": "gray_r", "vmin": -1, "vmax": 1}


def save_preview(path, samples, data_ref=None, title=""):
    samples = _plane(samples.detach().float().cpu())
    if samples.dim() == 2:
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        if data_ref is not None:
            d = _plane(data_ref.detach().float().cpu())
            ax.scatter(d[:, 0], d[:, 1], s=2, c="0.75", label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="model")
        ax.set_aspect("equal")
        ax.legend(loc="upper right", fontsize=7, markerscale=4)
    else:
        k = min(64, len(samples))
        cols = 8
        rows = (k + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), dpi=60)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < k:
                pixels, style = _image(samples[i])
                ax.imshow(pixels, **style)
    fig.suptitle(title, fontsize=8)
    fig.savefig(path)
    plt.close(fig)
    return path
