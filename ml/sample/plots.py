"""Pictures of samples: a scatter for 2-D data, an image grid for [C, H, W] data."""
from __future__ import annotations

import math

import numpy as np


def save_samples_png(samples: np.ndarray, path, title: str = "", reference: np.ndarray | None = None) -> bool:
    """Write a PNG of `samples` ([n, *data_shape]); returns False when the shape has no picture."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if samples.ndim == 2 and samples.shape[1] >= 2:
        fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
        if reference is not None:
            ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.75", label="exact data")
        pts = samples[:20000]
        ax.scatter(pts[:, 0], pts[:, 1], s=2, c="C0", label="samples")
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        if reference is not None:
            ax.legend(loc="upper right", fontsize=8, markerscale=4)
    elif samples.ndim in (3, 4):
        imgs = samples[:64]
        if imgs.ndim == 4:
            # RGB from the first three channels; fewer than three (grey, or 2-channel data): the first
            imgs = imgs[:, 0] if imgs.shape[1] < 3 else np.moveaxis(imgs[:, :3], 1, -1)
        n = len(imgs)
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), dpi=80, squeeze=False)
        lo, hi = -1.0, 1.0  # the project's image data are scaled to [-1, 1]
        for i, ax in enumerate(axes.ravel()):
            ax.axis("off")
            if i < n:
                ax.imshow(np.clip((imgs[i] - lo) / (hi - lo), 0, 1), cmap="gray", vmin=0, vmax=1)
        fig.suptitle(title, fontsize=8)
    else:
        return False
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return True
