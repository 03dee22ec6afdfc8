"""The model grid: a fixed-size box (default 96^3 at 2 mm) on the brain of each scan, in a canonical frame.

The box is placed by the scan's affine transform to the MNI152NLin6Asym template (which brain
extraction estimates), so that one grid voxel is about the same anatomy in every scan whatever
the head's pose, the header's orientation, axis order or origin (``preprocess.grid_frame``):

- ``affine`` (default): the box lies on the template's axes, centred on the point that
  corresponds to the template brain's centre, and each voxel axis is stretched by the affine's
  scale along it, so every brain is seen at about template size (head size is then no input of
  the model). The affine's shear is left out: ITK (and so ANTs) reads only images whose voxel axes
  are orthogonal, and grids through the whole affine could not be warped to MNI space.
- ``rigid``: the same axes and centre, voxels ``grid_voxel_mm`` wide (the scan's own size).
- ``scanner``: the box is on the scanner's axes, centred on the brain (no frame; a head tilted in
  the scanner is tilted on the grid).

On the demo (tests/benchmarks/RESULTS.md), ``affine`` put the same anatomy in the same voxel most
closely (grid images of different participants correlate 0.964, rigid 0.931, scanner 0.865) and
gave the model the best skill over the population-mean baseline on every fold.

Each grid image carries its affine (in the scan's T1w world), so any image on the grid maps back to
native space by one resampling between two known affines (``from_grid``), whatever the frame.
"""

from __future__ import annotations

from functools import lru_cache

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to

from synthpet.preprocess.geometry import mask_points, share_inside

FRAMES = ("rigid", "affine", "scanner")


@lru_cache(maxsize=1)
def template_brain_centre() -> np.ndarray:
    """Centroid (world mm) of the MNI152NLin6Asym brain mask: where the grid's centre goes."""
    from synthpet.preprocess.brain_extraction import head_template

    return mask_points(nib.load(head_template(1)[1])).mean(axis=1)


def nearest_rotation(linear: np.ndarray) -> np.ndarray:
    """The rotation closest to a 3x3 linear map (polar decomposition): its scaling and shear removed."""
    u, _, vt = np.linalg.svd(linear)
    if np.linalg.det(u @ vt) < 0:
        raise ValueError("the transform to the template mirrors the brain (left and right swapped)")
    return u @ vt


def grid_affine(
    mask: nib.Nifti1Image, shape, voxel_mm: float, to_template: np.ndarray | None = None, frame: str = "affine"
) -> np.ndarray:
    """Voxel-to-world affine of the model grid in the scan's T1w world (see the module docstring).

    ``to_template`` maps T1w world points to template world points (RAS mm); without it, or with
    the ``scanner`` frame, the grid is on the scanner's axes, centred on the brain mask's centroid.
    """
    half = voxel_mm * (np.asarray(shape, dtype=float) - 1) / 2.0
    affine = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    if to_template is None or frame == "scanner":
        affine[:3, 3] = mask_points(mask).mean(axis=1) - half
        return affine
    if frame not in FRAMES:
        raise ValueError(f"preprocess.grid_frame: unknown frame {frame!r} (choose from {', '.join(FRAMES)})")
    to_template = np.asarray(to_template, dtype=float)
    from_template = np.linalg.inv(to_template)
    # template axis e_i is the T1w direction R^T e_i; the centre is the template brain centre's image
    rotation = nearest_rotation(to_template[:3, :3])
    centre = from_template[:3, :3] @ template_brain_centre() + from_template[:3, 3]
    # affine: a template voxel's length along each of its axes, in the scan's millimetres
    scale = np.linalg.norm(from_template[:3, :3], axis=0) if frame == "affine" else np.ones(3)
    affine[:3, :3] = rotation.T * (voxel_mm * scale)
    affine[:3, 3] = centre - affine[:3, :3] @ ((np.asarray(shape, dtype=float) - 1) / 2.0)
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
