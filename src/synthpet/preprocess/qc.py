"""QC figures: PET in colour and the brain mask's outline over the T1w, three orthogonal slices."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# the outline's colour: cyan stands out on the T1w's greys and on every colour of the PET's 'hot' map
OUTLINE = "cyan"
QC_DPI = 150


def _cut(volume: np.ndarray, axis: int, centre: np.ndarray) -> np.ndarray:
    return np.take(volume, centre[axis], axis=axis).T


def bright_pet_outside(pet: np.ndarray, mask: np.ndarray) -> float:
    """The share of the PET's bright voxels (above half its 99th percentile inside the brain) that lie
    outside the brain mask: near 0 when the PET sits on the brain, higher as it slides off (a 5 mm
    shift of a brain-sized uptake moves its edge out of the mask all along one side)."""
    inside = pet[mask]
    if inside.size == 0:
        return float("nan")
    bright = pet > 0.5 * np.percentile(inside, 99)
    return float((bright & ~mask).sum() / max(int(bright.sum()), 1))


def overlay_figure(
    t1: np.ndarray,
    path: str | Path,
    title: str,
    mask: np.ndarray | None = None,
    pet: np.ndarray | None = None,
    pet_label: str = "SUV (g/mL)",
) -> Path:
    """Save a PNG: T1w in grey, PET in colour on top with its colour bar (where given), and the mask's
    outline. Give the PET unmasked: only then does a PET that slid off the brain show colour outside
    the outline. Slices go through the mask's centre of mass (or the volume's centre without a mask).
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
    figure, axes = plt.subplots(1, 3, figsize=(12, 4.4), facecolor="black", layout="constrained")
    colours = None
    if pet is not None:
        pet_max = float(np.percentile(pet[mask] if mask is not None and mask.any() else pet, 99.5)) or 1.0
    for axis, ax in enumerate(axes):
        ax.imshow(_cut(t1, axis, centre), cmap="gray", origin="lower", vmin=0, vmax=vmax)
        if pet is not None:
            shown = np.ma.masked_less_equal(_cut(pet, axis, centre), 0.1 * pet_max)
            colours = ax.imshow(shown, cmap="hot", origin="lower", alpha=0.5, vmin=0, vmax=pet_max)
        if mask is not None:
            ax.contour(_cut(mask.astype(float), axis, centre), levels=[0.5], colors=OUTLINE, linewidths=1.0)
        ax.set_axis_off()
    if colours is not None:
        bar = figure.colorbar(colours, ax=list(axes), shrink=0.8, pad=0.01)
        bar.set_label(pet_label, color="white")
        bar.ax.tick_params(colors="white")
    figure.suptitle(title, color="white")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=QC_DPI, facecolor="black", format="png")
    plt.close(figure)
    return Path(path)


def coregistration_figure(t1: np.ndarray, pet: np.ndarray, mask: np.ndarray, path: str | Path, scan: str) -> float:
    """The coregistration QC figure: the PET in T1w space, not masked, over the T1w with the brain
    mask's outline, titled with the share of its bright voxels outside the mask; returns that share."""
    outside = bright_pet_outside(pet, mask)
    overlay_figure(
        t1,
        path,
        f"{scan}: PET (colour, not masked) and brain mask (cyan outline) over the T1w; "
        f"{outside:.0%} of the bright PET outside the mask",
        mask=mask,
        pet=pet,
    )
    return outside
