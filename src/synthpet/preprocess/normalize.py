"""Intensity normalization of the model's input and target, as the paper did it with MONAI's
``ScaleIntensityRangePercentiles`` and ``ScaleIntensity``, in numpy (the same numbers, tested against
MONAI): a grid job then imports neither torch nor MONAI, a few seconds of every job's start.

- MRI: robust scaling to [0, 1] between its 1st and 99th percentiles, computed inside the brain.
- PET (``preprocess.pet_scale``): ``minmax``, the paper's per-scan min-max scaling of the SUV to
  [0, 1] inside the brain, whose scale is set by a scan's darkest and brightest voxels (hotspots,
  vessels), which no T1w shows; or ``mean``, the SUVR to the whole-brain mean (a scale set by every
  voxel) divided by ``pet_suvr_max`` and clipped to [0, 1]: the model's sigmoid output and BCE loss
  need a target in [0, 1].
Voxels outside the brain are 0 in both.
"""

from __future__ import annotations

import numpy as np


def scale_mri(t1: np.ndarray, mask: np.ndarray, percentiles=(1.0, 99.0), clip: bool = True) -> np.ndarray:
    brain = np.asarray(mask, bool)
    out = np.zeros(t1.shape, dtype=np.float32)
    values = np.asarray(t1[brain], dtype=np.float32)
    if values.size == 0:
        return out
    low, high = (np.float32(v) for v in np.percentile(values, percentiles))
    if high == low:  # MONAI then shifts, and neither scales nor clips
        out[brain] = values - low
    else:
        scaled = (values - low) / (high - low)
        out[brain] = np.clip(scaled, 0.0, 1.0) if clip else scaled
    return out


PET_SCALES = ("minmax", "mean")


def pet_scaling(values: np.ndarray, method: str = "minmax", suvr_max: float = 2.5) -> tuple[float, float, bool]:
    """The linear map of a scan's brain SUV (``values``) onto the model's target: (offset, span, clip),
    target = (SUV - offset) / span, clipped to [0, 1] when ``clip``; span 0 for a flat brain."""
    values = np.asarray(values, dtype=np.float32)
    if method == "minmax":
        low, high = float(values.min()), float(values.max())
        return low, high - low, False
    if method == "mean":
        return 0.0, float(values.mean()) * suvr_max, True
    raise ValueError(f"unknown PET scale {method!r}; expected one of {PET_SCALES}")


def apply_pet_scaling(values: np.ndarray, scaling: tuple[float, float, bool]) -> np.ndarray:
    offset, span, clip = scaling
    values = np.asarray(values, dtype=np.float32)
    # a flat brain has no range to scale: MONAI maps it to the minimum of the output range, 0
    if span == 0:
        return np.zeros_like(values)
    scaled = (values - np.float32(offset)) / np.float32(span)
    return np.clip(scaled, 0.0, 1.0) if clip else scaled


def scale_pet(suv: np.ndarray, mask: np.ndarray, method: str = "minmax", suvr_max: float = 2.5) -> np.ndarray:
    brain = np.asarray(mask, bool)
    out = np.zeros(suv.shape, dtype=np.float32)
    values = np.asarray(suv[brain], dtype=np.float32)
    if values.size == 0:
        return out
    out[brain] = apply_pet_scaling(values, pet_scaling(values, method, suvr_max))
    return out
