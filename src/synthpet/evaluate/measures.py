"""Per-scan measures in MNI space: each scan's images warped there, and its metrics and regional means.

The "true" PET of a scan is what its fold model was trained to predict: the scan's normalized PET on
the model grid, genotype-corrected by its fold's model. Every image reaches MNI space from the model
grid in one resampling.
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.evaluate import metrics
from synthpet.io.imageio import save_nifti

IMAGES = ("t1w", "pet", "pet_smoothed", "synthetic")  # what every scan has in MNI space
# target -> the images scored against it (a validation scores against its own truth, see validation.truth)
COMPARISONS = {"pet": ("synthetic",), "pet_smoothed": ("synthetic",)}


def warp_anatomy(inputs: dict, outputs: dict, voxel_mm: int) -> None:
    """A scan's normalized grid T1w to MNI space, and its own brain (its grid mask), which bounds
    where the scan is scored."""
    from synthpet.evaluate import mni

    brain = mni.to_mni(inputs["mask"], inputs["warp"], inputs["affine"], voxel_mm)
    save_nifti(np.asarray(brain.dataobj) > 0.5, brain.affine, outputs["mask"], dtype=np.uint8)
    img = mni.to_mni(inputs["t1w"], inputs["warp"], inputs["affine"], voxel_mm)
    save_nifti(np.asarray(img.dataobj), img.affine, outputs["t1w"])


def warp_pet(inputs: dict, outputs: dict, voxel_mm: int, fwhm_mm: float) -> None:
    """A scan's measured and synthetic grid PET to MNI space, each by one resampling, and the
    measured PET smoothed."""
    from synthpet.evaluate import mni

    for key in ("pet", "synthetic"):
        img = mni.to_mni(inputs[key], inputs["warp"], inputs["affine"], voxel_mm)
        save_nifti(np.asarray(img.dataobj), img.affine, outputs[key])
        if key == "pet":
            smoothed = mni.smooth(img, fwhm_mm)
            save_nifti(np.asarray(smoothed.dataobj, np.float32), smoothed.affine, outputs["pet_smoothed"])


def scored_region(voxel_mm: int, scan_mask: str) -> np.ndarray:
    """Where a scan is scored in MNI space: the template's brain and the scan's own warped brain.

    Outside its own brain mask a scan's true and synthetic PET are both zero: counting those voxels
    would flatter the model against any baseline that is not zero there.
    """
    from synthpet.evaluate.mni import template

    _, brain = template(voxel_mm)
    return brain & (np.asarray(nib.load(scan_mask).dataobj) > 0)


def scan_measures(
    images: dict[str, str],
    scan_mask: str,
    voxel_mm: int,
    atlas,
    settings: dict,
    seed: int,
    comparisons: dict = COMPARISONS,
    described: Sequence[str] | None = None,
    with_ssim: bool = True,
) -> tuple[dict, pd.DataFrame]:
    """Metrics of one scan (inside ``scored_region``), each image of ``comparisons`` against its
    target (``with_ssim``: SSIM too, two thirds of the time), and the CNR and regional means of each
    image of ``described`` (default: all) there."""
    brain = scored_region(voxel_mm, scan_mask)
    volumes = {key: np.asarray(nib.load(path).dataobj, np.float32) for key, path in images.items()}
    floor = settings["percdiff_min_target"]
    row: dict[str, float] = {}
    for target, compared in comparisons.items():
        for image in compared:
            for name, value in metrics.compare(volumes[image][brain], volumes[target][brain], floor).items():
                row[f"{name}_{image}_vs_{target}"] = value
            if with_ssim:
                row[f"ssim_{image}_vs_{target}"] = metrics.ssim(volumes[image], volumes[target], brain)
    # the same box pairs for every image of the scan, so their CNRs are comparable
    pairs = metrics.draw_box_pairs(brain, settings["cnr_draws"], tuple(settings["cnr_box"]), seed)
    described = list(volumes) if described is None else described
    for image in described:
        if image != "t1w":
            row[f"cnr_{image}"] = metrics.cnr(volumes[image], pairs)
    regions = pd.DataFrame({"region": atlas.names})
    for image in described:
        regions[image] = atlas.means(np.where(brain, volumes[image], np.nan))
    return row, regions
