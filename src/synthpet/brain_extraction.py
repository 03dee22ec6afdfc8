"""Skull stripping: a brain mask in the T1w's own space.

- ``ants`` backend: the MNI152NLin6Asym head template that nimare ships (with skull, and its own
  brain mask) is registered to the T1w, affine then SyN, and its mask is carried along. Measured on
  the synthetic cohort: Dice 0.967 with SyN, 0.952 affine only. The template is not the one the
  synthetic cohort was built from (MNI152 2009), so that measurement is not circular.
- ``fsl`` backend: BET with the configured fractional threshold.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.errors import SynthpetError


def head_template(resolution: int) -> tuple[Path, Path]:
    """(T1w with skull, brain mask) of MNI152NLin6Asym at 1 or 2 mm, from nimare's package data."""
    spec = importlib.util.find_spec("nimare")
    if spec is None or spec.origin is None:
        raise RuntimeError("the 'nimare' package (which ships the MNI152NLin6Asym head template) is not installed")
    folder = Path(spec.origin).parent / "resources" / "templates"
    return (
        folder / f"tpl-MNI152NLin6Asym_res-0{resolution}_T1w.nii.gz",
        folder / "tpl-MNI152NLin6Asym_res-01_desc-brain_mask.nii.gz",
    )


def extract_ants(t1: str | Path, transform: str = "SyN", work_voxel_mm: float = 2.0, seed: int = 0) -> np.ndarray:
    """Brain mask (bool, on the T1w grid) by registering the head template to the T1w."""
    import ants

    from synthpet.registration import ants_registration, working_copy

    template, template_mask = head_template(2 if work_voxel_mm >= 2 else 1)
    image = ants.image_read(str(t1)).astype("float32")
    fixed = working_copy(image, work_voxel_mm)
    with ants_registration(fixed, ants.image_read(str(template)), transform, seed) as result:
        warped = ants.apply_transforms(
            fixed=image,
            moving=ants.image_read(str(template_mask)),
            transformlist=result["fwdtransforms"],
            interpolator="linear",
        )
    # ANTs images are in the file's voxel order, the same as nibabel's
    return warped.numpy() > 0.5


def bet_interface(t1: str | Path, out: str | Path, frac: float = 0.5, robust: bool = True):
    """nipype's BET interface (its ``cmdline`` is the exact command that runs)."""
    from nipype.interfaces import fsl

    return fsl.BET(in_file=str(t1), out_file=str(out), frac=frac, robust=robust, mask=True, output_type="NIFTI_GZ")


def extract_fsl(t1: str | Path, frac: float = 0.5, robust: bool = True) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        result = bet_interface(t1, Path(tmp) / "brain.nii.gz", frac, robust).run(cwd=tmp)
        return np.asarray(nib.load(result.outputs.mask_file).dataobj) > 0


def extract(t1: str | Path, backend: str, settings: dict, seed: int = 0) -> np.ndarray:
    """Brain mask of a T1w (bool, on its grid), enclosed CSF spaces included."""
    from synthpet.registration import resolve_backend

    if resolve_backend(backend) == "fsl":
        mask = extract_fsl(t1, frac=settings["bet_frac"], robust=settings["bet_robust"])
    else:
        mask = extract_ants(
            t1, transform=settings["template_transform"], work_voxel_mm=settings["coreg_voxel_mm"], seed=seed
        )
    return fill_enclosed(mask)


def fill_enclosed(mask: np.ndarray) -> np.ndarray:
    """The mask with its enclosed holes filled: the ventricles belong to the brain, as in BET's masks.

    The template's own mask leaves 10-15 mL of holes at the ventricles and cisterns, which every
    mask carried along from it inherited (and the synthetic PET was zero there).
    """
    from scipy import ndimage

    return ndimage.binary_fill_holes(np.asarray(mask, bool))


def check_mask(mask: np.ndarray, voxel_volume_ml: float, what: str, qc: str) -> None:
    """Stop on a mask that cannot be a brain: empty, or covering (nearly) the whole field of view."""
    volume = float(mask.sum()) * voxel_volume_ml
    if volume < 300:
        raise SynthpetError(f"{what}: brain extraction failed, the mask holds {volume:.0f} mL (< 300 mL); see {qc}")
    if mask.mean() > 0.8:
        raise SynthpetError(
            f"{what}: brain extraction failed, the mask covers {100 * mask.mean():.0f} % of the field of view; see {qc}"
        )


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return float(2.0 * (a & b).sum() / total) if total else 1.0
