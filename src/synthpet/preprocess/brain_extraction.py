"""Skull stripping: a brain mask in the T1w's own space, and the scan's affine transform to the template.

- ``ants`` backend: the MNI152NLin6Asym head template that nimare ships (with skull, and its own
  brain mask) is registered to the T1w, affine then SyN, and its mask is carried along. Measured on
  the synthetic cohort: Dice 0.967 with SyN, 0.952 affine only. The template is not the one the
  synthetic cohort was built from (MNI152 2009), so that measurement is not circular.
- ``fsl`` backend: BET with the configured fractional threshold, then FLIRT (12 dof) of the brain to
  FSL's MNI152 brain (the same MNI152NLin6Asym space) for the transform.

The transform (T1w world -> template world, RAS mm) orients the model grid (``synthpet.preprocess.model_grid``).
"""

from __future__ import annotations

import importlib.util
import tempfile
from contextlib import ExitStack
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.errors import SynthpetError
from synthpet.preprocess.settings import MaskSettings


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


TEMPLATE_SPACE = "MNI152NLin6Asym"


def pose_search(fixed, moving, out: str) -> str:
    """A multi-start search over rotations (antsAffineInitializer, on 4 mm copies) for the first transform.

    Centre-of-mass alignment alone, ANTs' default, leaves a head tilted by 30 degrees tilted by 26
    after the affine stage; with the search 1 degree is left (measured on a phantom scan, 1.6 s).
    """
    from synthpet.preprocess.antspy import ants
    from synthpet.preprocess.registration import working_copy

    return ants.affine_initializer(
        working_copy(fixed, 4), working_copy(moving, 4), search_factor=20, radian_fraction=0.1, txfn=out
    )


def extract_ants(
    t1: str | Path, transform: str = "SyN", work_voxel_mm: float = 2.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Brain mask (bool, on the T1w grid) by registering the head template to the T1w, and T1w -> template.

    The registration starts from one of two poses: the rotation search's (``pose_search``) or the
    centres of mass aligned (ANTs' default). An affine registration from each, and the one whose result
    matches the T1w better (mutual information) gives the start: the search rescues a head tilted far
    in the scanner, but on a T1w with dark white-matter lesions it settled on a wrong pose (mask Dice
    0.87 against 0.95 from the centres of mass, and the metric chose right on every scan measured).
    With ``transform`` Affine, the chosen registration is the result; otherwise the transform runs
    from the chosen start.
    """
    from synthpet.preprocess.antspy import ants
    from synthpet.preprocess.registration import ants_registration, ants_transform_to_world, working_copy

    template, template_mask = head_template(2 if work_voxel_mm >= 2 else 1)
    image = ants.image_read(str(t1)).astype("float32")
    moving = ants.image_read(str(template))
    fixed = working_copy(image, work_voxel_mm)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:

        def register(kind: str, start: str | None) -> dict:
            options = {"initial_transform": start} if start else {}  # none: ANTs' centres of mass
            return stack.enter_context(ants_registration(fixed, moving, kind, seed, **options))

        starts = (pose_search(image, moving, f"{tmp}/init.mat"), None)
        affines = [register("Affine", start) for start in starts]
        # ANTs' mutual information of the T1w and the template the registration warped: lower is better
        scores = [ants.image_mutual_information(fixed, affine["warpedmovout"]) for affine in affines]
        best = int(np.argmin(scores))
        result = affines[best] if transform == "Affine" else register(transform, starts[best])
        warped = ants.apply_transforms(
            fixed=image,
            moving=ants.image_read(str(template_mask)),
            transformlist=result["fwdtransforms"],
            interpolator="linear",
        )
        # the affine file (last in the list) maps fixed (T1w) points to moving (template) points
        to_template = ants_transform_to_world(result["fwdtransforms"][-1])
    # ANTs images are in the file's voxel order, the same as nibabel's
    return warped.numpy() > 0.5, to_template


def bet_interface(t1: str | Path, out: str | Path, frac: float = 0.5, robust: bool = True):
    """nipype's BET interface (its ``cmdline`` is the exact command that runs)."""
    from nipype.interfaces import fsl

    return fsl.BET(in_file=str(t1), out_file=str(out), frac=frac, robust=robust, mask=True, output_type="NIFTI_GZ")


def fsl_brain_template() -> Path:
    """FSL's own MNI152 brain at 2 mm (MNI152NLin6Asym space), from the installation FSLDIR points at."""
    import os

    return Path(os.environ.get("FSLDIR", "")) / "data" / "standard" / "MNI152_T1_2mm_brain.nii.gz"


def extract_fsl(t1: str | Path, frac: float = 0.5, robust: bool = True) -> tuple[np.ndarray, np.ndarray]:
    from synthpet.preprocess.registration import flirt_interface, flirt_world

    with tempfile.TemporaryDirectory() as tmp:
        result = bet_interface(t1, Path(tmp) / "brain.nii.gz", frac, robust).run(cwd=tmp)
        mask = np.asarray(nib.load(result.outputs.mask_file).dataobj) > 0
        matrix = Path(tmp) / "t1w2template.mat"
        template = fsl_brain_template()
        flirt_interface(result.outputs.out_file, template, matrix, dof=12, cost="corratio").run(cwd=tmp)
        return mask, flirt_world(np.loadtxt(matrix), result.outputs.out_file, template)


def extract(t1: str | Path, backend: str, settings: MaskSettings, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Brain mask of a T1w (bool, on its grid), enclosed CSF spaces included, and its T1w -> template transform."""
    from synthpet.preprocess.registration import resolve_backend

    if resolve_backend(backend) == "fsl":
        mask, to_template = extract_fsl(t1, frac=settings.bet_frac, robust=settings.bet_robust)
    else:
        mask, to_template = extract_ants(
            t1, transform=settings.template_transform, work_voxel_mm=settings.coreg_voxel_mm, seed=seed
        )
    return fill_enclosed(mask), to_template


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
