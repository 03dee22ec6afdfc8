"""SUVR: a PET image divided by its mean in a reference region, comparable between participants.

The paper's [0, 1] scale is set per scan (min-max), which the paper names as the limit to group
comparisons. A ratio to a reference region's mean is the measure [11C]PBR28 studies compare
(whole-brain reference by default, as in Loggia et al. 2015, Brain 138:604). The reference is the
scan's own brain mask, or the union of atlas regions (``evaluation.suvr_reference``) inside it.
"""

from __future__ import annotations

import numpy as np

from synthpet.errors import ConfigError, InputError

KEY = "evaluation.suvr_reference"


def check_reference(names: list[str], available: list[str]) -> None:
    """Every reference region must be a region of the atlas (unknown regions are refused by name)."""
    unknown = [name for name in names if available and name not in available]
    if unknown:
        raise ConfigError(
            f"config key '{KEY}': {', '.join(unknown)} not in the atlas; its regions include "
            f"{', '.join(available[:6])}, ... (evaluation.atlas)"
        )


def reference_mask(brain: np.ndarray, atlas=None, names: list[str] | tuple = ()) -> np.ndarray:
    """The reference region: ``brain``, or the union of the named atlas regions inside it."""
    if not names:
        return brain.astype(bool)
    check_reference(list(names), list(atlas.names))
    regions = np.any([atlas.masks[atlas.names.index(name)] for name in names], axis=0)
    return regions & brain.astype(bool)


def to_suvr(volume: np.ndarray, reference: np.ndarray, what: str = "image") -> np.ndarray:
    """``volume`` divided by its mean inside ``reference`` (float32)."""
    if not reference.any():
        raise InputError(f"{what}: the SUVR reference region ({KEY}) holds no voxel of this scan's brain")
    mean = float(volume[reference].mean())
    if not np.isfinite(mean) or mean <= 0:
        raise InputError(f"{what}: mean {mean:g} in the SUVR reference region ({KEY}); an SUVR needs a positive mean")
    return (volume / np.float32(mean)).astype(np.float32)


def write_scan_suvr(images: dict[str, str], mask: str, atlas_path: str, names, outputs: dict[str, str]) -> float:
    """Each of ``images`` (MNI space) as an SUVR to the reference region; returns its size in voxels."""
    import nibabel as nib

    from synthpet.evaluate.atlas import Atlas
    from synthpet.io.imageio import save_nifti

    brain = np.asarray(nib.load(mask).dataobj) > 0
    reference = reference_mask(brain, Atlas.load(atlas_path) if names else None, list(names))
    for key, path in images.items():
        img = nib.load(path)
        ratio = to_suvr(np.asarray(img.dataobj, np.float32), reference, path)
        save_nifti(np.where(brain, ratio, 0), img.affine, outputs[key])
    return int(reference.sum())
