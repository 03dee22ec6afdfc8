"""Spatial normalization to MNI space (antspyx): affine then SyN, to the MNI152NLin6Asym template.

The template is FSL's MNI152 nonlinear 6th generation (BIDS space MNI152NLin6Asym), as nimare
ships it with skull at 1 and 2 mm with its brain mask. It is the space the Harvard-Oxford atlas is
defined in (the atlas grid is a crop of this template's grid, tested), so regions need no
registration between templates, and it is not the MNI152 2009 template that the synthetic cohort
is built from, so registration accuracy measured on the cohort is not circular. The scan's
registration starts from the affine that brain extraction found to the same template.

The transforms are kept as ANTs writes them (a displacement field, its inverse and an affine), so
that any image in the scan's T1w world (native T1w, PET in T1w space, or the model grid, whose
affine is in the same world) reaches MNI space by one resampling, and back (``from_mni``).
"""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from synthpet.preprocess.brain_extraction import TEMPLATE_SPACE

SPACE = TEMPLATE_SPACE  # BIDS space label of every MNI output


@lru_cache(maxsize=2)
def template(voxel_mm: int) -> tuple[nib.Nifti1Image, np.ndarray]:
    """(skull-stripped T1 template, brain mask with its enclosed holes filled) of MNI152NLin6Asym at ``voxel_mm``."""
    from synthpet.preprocess.brain_extraction import fill_enclosed, head_template

    if voxel_mm not in (1, 2):
        raise ValueError(f"the bundled MNI152NLin6Asym template exists at 1 and 2 mm, not {voxel_mm}")
    head, _ = head_template(voxel_mm)
    t1 = nib.load(head)
    mask_file = head.with_name(f"tpl-MNI152NLin6Asym_res-0{voxel_mm}_desc-brain_mask.nii.gz")
    brain = fill_enclosed(np.asarray(nib.load(mask_file).dataobj) > 0.5)
    return nib.Nifti1Image(t1.get_fdata(dtype=np.float32) * brain, t1.affine), brain


# the files that carry images between nibabel and ANTs are uncompressed: gzip cost more than the rest
def _to_ants(img: nib.Nifti1Image):
    """A nibabel image as an ANTs image (through a file: this antspyx has no in-memory conversion)."""
    from synthpet.preprocess.antspy import ants

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/image.nii"
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj, np.float32), img.affine), path)
        return ants.image_read(path)


def _to_nibabel(image) -> nib.Nifti1Image:
    from synthpet.preprocess.antspy import ants

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/image.nii"
        ants.image_write(image, path)
        img = nib.load(path, mmap=False)
        return nib.Nifti1Image(np.array(img.dataobj, dtype=np.float32), img.affine)


@lru_cache(maxsize=2)
def _ants_template(voxel_mm: int):
    """The template as an ANTs image, made once per process (a job warps several images onto it)."""
    return _to_ants(template(voxel_mm)[0])


def register(
    brain_t1w: str | Path,
    voxel_mm: int,
    warp_out: str | Path,
    affine_out: str | Path,
    warped_out: str | Path,
    seed: int = 0,
    work_voxel_mm: float = 0,
    to_mni152: str | Path | None = None,
    inverse_warp_out: str | Path | None = None,
    qc_out: str | Path | None = None,
    scan: str = "",
) -> None:
    """Register a brain-extracted T1w to the template (affine then SyN); writes the transforms (the
    inverse warp too, when asked: MNI -> T1w with the same affine, see ``from_mni``) and the warped T1w;
    with ``qc_out``, the QC figure of the warped T1w under the template brain's outline.

    The registration runs on copies of both images at ``work_voxel_mm`` (0: the template's grid);
    the warped T1w is resampled once, with the transforms, onto the ``voxel_mm`` template grid.
    ``to_mni152``: the scan's T1w -> MNI152 affine from brain extraction, where the registration
    starts (a head tilted by 20 degrees defeats ANTs' centre-of-mass start).
    """
    from synthpet.io.imageio import atomic_path, save_nifti
    from synthpet.preprocess.antspy import ants
    from synthpet.preprocess.registration import ants_registration, load_matrix, working_copy, write_ants_transform

    fixed = _ants_template(voxel_mm)
    moving = ants.image_read(str(brain_t1w)).astype("float32")
    with tempfile.TemporaryDirectory() as tmp:
        options = {}
        if to_mni152 is not None:  # the registration's transform maps template points to T1w points
            options["initial_transform"] = write_ants_transform(
                np.linalg.inv(load_matrix(to_mni152)), f"{tmp}/start.mat"
            )
        with ants_registration(
            working_copy(fixed, work_voxel_mm), working_copy(moving, work_voxel_mm), "SyN", seed, **options
        ) as result:
            warp, affine = result["fwdtransforms"]
            kept = [(warp, warp_out), (affine, affine_out)]
            if inverse_warp_out is not None:
                kept.append((result["invtransforms"][1], inverse_warp_out))
            for source, target in kept:
                with atomic_path(target) as part:
                    shutil.copyfile(source, part)
    warped = to_mni(brain_t1w, warp_out, affine_out, voxel_mm)
    save_nifti(np.asarray(warped.dataobj), warped.affine, warped_out)
    if qc_out is not None:
        from synthpet.preprocess.qc import overlay_figure

        title = f"{scan}: T1w in MNI space, template brain outline (cyan)"
        overlay_figure(np.asarray(warped.dataobj, np.float32), qc_out, title, mask=template(voxel_mm)[1])


def to_mni(
    image: str | Path | nib.Nifti1Image,
    warp: str | Path,
    affine: str | Path,
    voxel_mm: int,
    interpolator: str = "linear",
) -> nib.Nifti1Image:
    """An image in the scan's T1w world (any grid) resampled once onto the template grid."""
    from synthpet.preprocess.antspy import ants

    moving = _to_ants(image) if isinstance(image, nib.Nifti1Image) else ants.image_read(str(image))
    warped = ants.apply_transforms(
        fixed=_ants_template(voxel_mm),
        moving=moving.astype("float32"),
        transformlist=[str(warp), str(affine)],
        interpolator=interpolator,
    )
    return _to_nibabel(warped)


def from_mni(
    image: str | Path | nib.Nifti1Image,
    inverse_warp: str | Path,
    affine: str | Path,
    reference: str | Path,
    interpolator: str = "linear",
) -> nib.Nifti1Image:
    """An MNI-space image (e.g. an atlas or a group map) resampled once onto a scan's T1w grid."""
    from synthpet.preprocess.antspy import ants

    moving = _to_ants(image) if isinstance(image, nib.Nifti1Image) else ants.image_read(str(image))
    warped = ants.apply_transforms(
        fixed=ants.image_read(str(reference)),
        moving=moving.astype("float32"),
        transformlist=[str(affine), str(inverse_warp)],
        whichtoinvert=[True, False],
        interpolator=interpolator,
    )
    return _to_nibabel(warped)


def smooth(img: nib.Nifti1Image, fwhm_mm: float) -> nib.Nifti1Image:
    """Gaussian smoothing with a FWHM in mm (nilearn); 0 leaves the image as it is."""
    from nilearn.image import smooth_img

    return smooth_img(img, fwhm=fwhm_mm) if fwhm_mm > 0 else img
