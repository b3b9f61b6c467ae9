"""Preview PNGs: a scatter of samples over data for 2-D toys, an image grid for digits."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # workers have no display
import matplotlib.pyplot as plt  # noqa: E402


def save_preview(path, samples, data_ref=None, title=""):
    samples = samples.detach().float().cpu()
    if samples.dim() == 2:
        fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
        if data_ref is not None:
            d = data_ref.detach().float().cpu()
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
                ax.imshow(samples[i].reshape(8, 8).clamp(-1, 1), cmap="gray_r", vmin=-1, vmax=1)
    fig.suptitle(title, fontsize=8)
    fig.savefig(path)
    plt.close(fig)
    return path
