"""The model grid: a fixed-size box (default 96^3 at 2 mm) centred on the brain of each scan.

Each grid image carries its affine, so any image on the grid maps back to the scan's native T1w
space by one resampling between two known affines (``from_grid``).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to

from synthpet.geometry import mask_points, share_inside


def grid_affine(mask: nib.Nifti1Image, shape, voxel_mm: float) -> np.ndarray:
    """RAS grid of ``shape`` voxels of ``voxel_mm``, its centre on the centroid of the brain mask."""
    centroid = mask_points(mask).mean(axis=1)
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    affine[:3, 3] = centroid - voxel_mm * (np.asarray(shape) - 1) / 2.0
    return affine


def to_grid(img: nib.Nifti1Image, affine: np.ndarray, shape, order: int = 1) -> np.ndarray:
    """Resample an image onto the grid (``order`` 0 for masks). Anti-aliasing is left to the caller."""
    resampled = resample_from_to(img, (tuple(shape), affine), order=order, mode="constant", cval=0.0)
    return np.asarray(resampled.dataobj, dtype=np.float32)


def from_grid(data: np.ndarray, affine: np.ndarray, target: nib.Nifti1Image, order: int = 1) -> nib.Nifti1Image:
    """An image on the grid back on a native grid (e.g. the scan's T1w)."""
    return resample_from_to(nib.Nifti1Image(np.asarray(data, np.float32), affine), target, order=order, cval=0.0)


def brain_fits(mask: nib.Nifti1Image, affine: np.ndarray, shape) -> float:
    """Share of the brain mask's voxels that fall inside the grid (1.0 when the box holds the brain)."""
    return share_inside(mask_points(mask), affine, shape)
