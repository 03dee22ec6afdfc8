"""Intensity normalization of the model's input and target, as the paper did it with MONAI's
``ScaleIntensityRangePercentiles`` and ``ScaleIntensity``, in numpy (the same numbers, tested against
MONAI): a grid job then imports neither torch nor MONAI, a few seconds of every job's start.

- MRI: robust scaling to [0, 1] between its 1st and 99th percentiles, computed inside the brain.
- PET: per-scan min-max scaling of the SUV to [0, 1] inside the brain.
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


def scale_pet(suv: np.ndarray, mask: np.ndarray) -> np.ndarray:
    brain = np.asarray(mask, bool)
    out = np.zeros(suv.shape, dtype=np.float32)
    values = np.asarray(suv[brain], dtype=np.float32)
    if values.size == 0:
        return out
    low, high = values.min(), values.max()
    # a flat brain has no range to scale: MONAI maps it to the minimum of the output range, 0
    out[brain] = 0.0 if high == low else (values - low) / (high - low)
    return out
