"""QC figures: PET and brain-mask contours over the T1w, three orthogonal slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _cut(volume: np.ndarray, axis: int, centre: np.ndarray) -> np.ndarray:
    return np.take(volume, centre[axis], axis=axis).T


def overlay_figure(
    t1: np.ndarray, path: str | Path, title: str, mask: np.ndarray | None = None, pet: np.ndarray | None = None
) -> Path:
    """Save a PNG: T1w in grey, PET in colour on top (where given), the mask as a red contour.

    Slices go through the mask's centre of mass (or the volume's centre without a mask).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synthpet.io.imageio import atomic_path

    centre = (
        np.argwhere(mask).mean(axis=0).round().astype(int)
        if mask is not None and mask.any()
        else np.array(t1.shape) // 2
    )
    vmax = np.percentile(t1, 99.5) or 1.0
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.2), facecolor="black")
    for axis, ax in enumerate(axes):
        ax.imshow(_cut(t1, axis, centre), cmap="gray", origin="lower", vmin=0, vmax=vmax)
        if pet is not None:
            shown = np.ma.masked_less_equal(_cut(pet, axis, centre), 0.05 * float(np.max(pet)))
            ax.imshow(shown, cmap="hot", origin="lower", alpha=0.45)
        if mask is not None:
            ax.contour(_cut(mask.astype(float), axis, centre), levels=[0.5], colors="red", linewidths=0.8)
        ax.set_axis_off()
    figure.suptitle(title, color="white")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=80, facecolor="black", format="png")
    plt.close(figure)
    return Path(path)
