"""Does an image's content look like a T1w? Checks of its voxels for images that no name or sidecar
describes (``synthpet predict`` on a file named ``*_T1w`` that holds a PET, or a bare ``scan.nii``).

Two properties that hold whatever the scanner, the units or the intensity scale:

- a CT is in Hounsfield units: the air around the head is about -1000, a T1w is never far below 0;
- a PET is smooth: its resolution (4-8 mm FWHM) leaves structure that changes little between 4 and
  8 mm, where a T1w's edges (cortex, ventricles, skull) have lost most of it. Measured as a ratio of
  two correlations, so that noise independent from voxel to voxel cancels: a noisy PET is still
  smooth.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

# a CT: at least this share of the volume is air in Hounsfield units (below -500; air is -1000)
CT_AIR_SHARE = 0.1
SMOOTHNESS_LAG_MM = 4.0
# above this, an image is as smooth as a PET. Measured (the ratio at 4 mm, see ``smoothness``): the
# MNI152 T1 templates, averages of many brains and so smoother than any one T1w, 0.57-0.62; the same
# template smoothed by 5 mm FWHM 0.72; a synthetic PET at 3 mm voxels 0.85-0.89 with or without 20-50 %
# voxel noise, 0.83 resampled to a 2 mm T1w grid and 0.87 to 1.22 mm (tests/benchmarks/RESULTS.md)
PET_LIKE_SMOOTHNESS = 0.78


def _head(data: np.ndarray) -> np.ndarray:
    """The voxels above a tenth of the image's robust range, the head and not the air around it,
    found on a blurred copy: a mask drawn on the noisy voxels would keep the noise that is high."""
    blurred = ndimage.uniform_filter(data, size=3)
    low, high = np.percentile(blurred, [1.0, 99.5])
    return blurred > low + 0.1 * (high - low)


def _lagged_correlation(data: np.ndarray, head: np.ndarray, axis: int, lag: int) -> float:
    """Correlation between head voxels and the head voxels ``lag`` voxels further along ``axis``."""
    if lag >= data.shape[axis]:
        return float("nan")
    first = [slice(None)] * 3
    second = [slice(None)] * 3
    first[axis], second[axis] = slice(0, -lag), slice(lag, None)
    both = head[tuple(first)] & head[tuple(second)]
    x, y = data[tuple(first)][both], data[tuple(second)][both]
    if x.size < 100 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def smoothness(data: np.ndarray, voxel_mm, lag_mm: float = SMOOTHNESS_LAG_MM) -> float:
    """How much of the head's voxel correlation at ``lag_mm`` is still there at twice the distance,
    averaged over the three axes (1: none lost, as in a blurred image; lower: sharp edges).

    Noise independent from voxel to voxel divides both correlations by the same factor (the image's
    variance grows, the covariances do not), so it cancels. NaN where the image is too small to tell.
    """
    data = np.asarray(data, dtype=np.float32)
    head = _head(data)
    ratios = []
    for axis in range(3):
        lag = max(1, int(round(lag_mm / float(voxel_mm[axis]))))
        near = _lagged_correlation(data, head, axis, lag)
        far = _lagged_correlation(data, head, axis, 2 * lag)
        if near > 0.05 and np.isfinite(far):
            ratios.append(far / near)
    return float(np.mean(ratios)) if ratios else float("nan")


def contrast_problems(img: nib.Nifti1Image, path: str | Path) -> list[str]:
    """Why the voxels of a 3D image (its geometry checked) are not a T1w's: a CT or a PET; [] if they may be."""
    try:
        data = np.asarray(img.dataobj, dtype=np.float32).reshape(img.shape[:3])
    except Exception as err:  # a truncated or corrupt file: gzip, zlib and nibabel raise their own types
        return [f"{path}: its voxels cannot be read ({type(err).__name__}: {err})"]
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return [f"{path}: the image holds no finite value"]
    air = float((finite < -500).mean())
    if air >= CT_AIR_SHARE and finite.min() <= -900:
        return [
            f"{path}: its voxels look like a CT, not a T1w: {air:.0%} of them are below -500 (down to "
            f"{finite.min():.0f}), as air is in Hounsfield units; a T1w's intensities are not negative"
        ]
    smooth = smoothness(np.nan_to_num(data), nib.affines.voxel_sizes(img.affine))
    if smooth > PET_LIKE_SMOOTHNESS:
        return [
            f"{path}: its voxels look like a PET, not a T1w: the image is as smooth as a PET (its structure "
            f"keeps {smooth:.0%} of its {SMOOTHNESS_LAG_MM:.0f} mm correlation at {2 * SMOOTHNESS_LAG_MM:.0f} mm; "
            f"a T1w keeps at most about {PET_LIKE_SMOOTHNESS:.0%}, even blurred by 5 mm)"
        ]
    return []
