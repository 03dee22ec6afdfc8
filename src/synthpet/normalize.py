"""Intensity normalization of the model's input and target, as the paper did it (MONAI transforms).

- MRI: robust scaling to [0, 1] between its 1st and 99th percentiles, computed inside the brain.
- PET: per-scan min-max scaling of the SUV to [0, 1] inside the brain.
Voxels outside the brain are 0 in both.
"""

from __future__ import annotations

import numpy as np


def scale_mri(t1: np.ndarray, mask: np.ndarray, percentiles=(1.0, 99.0), clip: bool = True) -> np.ndarray:
    from monai.transforms import ScaleIntensityRangePercentiles

    brain = np.asarray(mask, bool)
    scale = ScaleIntensityRangePercentiles(lower=percentiles[0], upper=percentiles[1], b_min=0.0, b_max=1.0, clip=clip)
    out = np.zeros(t1.shape, dtype=np.float32)
    # MONAI takes a channel-first array; the brain voxels as one channel keep the percentiles in the brain
    out[brain] = np.asarray(scale(t1[brain][np.newaxis].astype(np.float32)))[0]
    return out


def scale_pet(suv: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from monai.transforms import ScaleIntensity

    brain = np.asarray(mask, bool)
    out = np.zeros(suv.shape, dtype=np.float32)
    out[brain] = np.asarray(ScaleIntensity(minv=0.0, maxv=1.0)(suv[brain][np.newaxis].astype(np.float32)))[0]
    return out
