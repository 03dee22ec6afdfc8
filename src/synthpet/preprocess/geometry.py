"""World-space geometry shared by registration, the model grid and the accuracy measures."""

from __future__ import annotations

import nibabel as nib
import numpy as np


def mask_points(mask: nib.Nifti1Image) -> np.ndarray:
    """World coordinates (3, N), in mm, of the voxels of a mask image that are set."""
    ijk = np.argwhere(np.asarray(mask.dataobj) > 0).T
    return mask.affine[:3, :3] @ ijk + mask.affine[:3, 3:4]


def share_inside(points: np.ndarray, affine: np.ndarray, shape) -> float:
    """Share of world points (3, N) that fall inside the voxel grid (``affine``, ``shape``)."""
    inverse = np.linalg.inv(affine)
    ijk = inverse[:3, :3] @ points + inverse[:3, 3:4]
    upper = np.asarray(shape[:3])[:, None] - 0.5
    return float(np.mean(np.all((ijk >= -0.5) & (ijk <= upper), axis=0)))
