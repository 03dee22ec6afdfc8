"""Per-scan preprocessing steps, each reading and writing files (what one workflow job runs).

brain_mask -> coregistration -> model_grid. A step that cannot produce a sound result (an empty or
whole-volume mask, a transform that moves the brain out of the PET field of view, a brain that does
not fit the model grid) writes a QC figure under ``qc_failed`` and stops with an error that names
the scan and that figure.
"""

from __future__ import annotations

import logging

import nibabel as nib
import numpy as np
from scipy import ndimage

from synthpet.errors import SynthpetError
from synthpet.io.imageio import save_nifti
from synthpet.preprocess import brain_extraction, model_grid, normalize, registration
from synthpet.preprocess.geometry import mask_points
from synthpet.preprocess.qc import coregistration_figure, overlay_figure
from synthpet.preprocess.settings import CoregSettings, GridSettings, MaskSettings, PetScale

LOG = logging.getLogger("synthpet")


def _voxel_ml(img: nib.Nifti1Image) -> float:
    return float(abs(np.linalg.det(img.affine[:3, :3]))) / 1000.0


def brain_mask(
    t1: str,
    mask_out: str,
    brain_out: str,
    xfm_out: str,
    backend: str,
    settings: MaskSettings,
    seed: int,
    scan: str,
    qc_failed: str,
) -> None:
    """Brain mask and brain-extracted T1w, and the T1w -> template affine that orients the model grid."""
    img = nib.load(t1)
    data = np.asarray(img.dataobj, dtype=np.float32)
    LOG.info(f"{scan}: brain extraction, backend {registration.resolve_backend(backend)} (asked: {backend})")
    mask, to_template = brain_extraction.extract(t1, backend, settings, seed)
    LOG.info(f"{scan}: brain mask {mask.sum() * _voxel_ml(img):.0f} mL")
    try:
        brain_extraction.check_mask(mask, _voxel_ml(img), scan, qc_failed)
    except SynthpetError:
        overlay_figure(data, qc_failed, f"{scan}: brain extraction FAILED", mask=mask)
        raise
    save_nifti(mask, img.affine, mask_out, dtype=np.uint8)
    save_nifti(data * mask, img.affine, brain_out)
    registration.save_matrix(to_template, xfm_out, "T1w", brain_extraction.TEMPLATE_SPACE)


def coregistration(
    t1: str,
    suv: str,
    mask: str,
    matrix_out: str,
    pet_out: str,
    backend: str,
    settings: CoregSettings,
    seed: int,
    scan: str,
    qc_failed: str,
    qc_out: str | None = None,
    whole_out: str | None = None,
) -> None:
    """PET-to-T1w transform and the PET in T1w space, inside the brain (and, with ``whole_out``, not
    masked: what a user overlays on the T1w); with ``qc_out``, the QC figure of the PET and the brain
    mask over the T1w (drawn here, from the images already in memory)."""
    t1_img, pet_img, mask_img = nib.load(t1), nib.load(suv), nib.load(mask)
    brain = np.asarray(mask_img.dataobj) > 0
    LOG.info(f"{scan}: PET-to-T1w coregistration, backend {registration.resolve_backend(backend)} (asked: {backend})")
    matrix = registration.coregister(t1, suv, backend, settings, seed)
    points = mask_points(mask_img)
    inside = registration.fraction_inside(points, matrix, pet_img)
    pet_t1 = np.asarray(registration.pet_in_t1_space(pet_img, t1_img, matrix).dataobj, dtype=np.float32)
    t1_data = np.asarray(t1_img.dataobj, np.float32)
    if inside < 0.9:
        overlay_figure(t1_data, qc_failed, f"{scan}: coregistration FAILED", mask=brain, pet=pet_t1)
        raise SynthpetError(
            f"{scan}: coregistration failed, it puts {100 * (1 - inside):.0f} % of the brain outside the PET "
            f"field of view; see {qc_failed}"
        )
    registration.save_matrix(matrix, matrix_out)
    save_nifti(pet_t1 * brain, t1_img.affine, pet_out)
    if whole_out:
        save_nifti(pet_t1, t1_img.affine, whole_out)
    if qc_out:
        outside = coregistration_figure(t1_data, pet_t1, brain, qc_out, scan)
        LOG.info(f"{scan}: {outside:.1%} of the PET's bright voxels lie outside the brain mask")


def _anti_alias(img: nib.Nifti1Image, voxel_mm: float) -> nib.Nifti1Image:
    """Gaussian pre-smoothing before resampling onto a coarser grid (sigma from the voxel ratio)."""
    source = nib.affines.voxel_sizes(img.affine)
    ratio = voxel_mm / source
    sigma = np.where(ratio > 1, np.sqrt(np.clip(ratio**2 - 1, 0, None)) / 2.355, 0.0)
    if not np.any(sigma > 0):
        return img
    return nib.Nifti1Image(ndimage.gaussian_filter(np.asarray(img.dataobj, np.float32), sigma), img.affine)


def _grid_for(
    mask_img: nib.Nifti1Image, xfm: str | None, settings: GridSettings, scan: str
) -> tuple[np.ndarray, tuple[int, ...], float]:
    shape, voxel = settings.grid_shape, float(settings.grid_voxel_mm)
    to_template = registration.load_matrix(xfm) if xfm else None
    try:
        affine = model_grid.grid_affine(mask_img, shape, voxel, to_template, settings.grid_frame)
    except ValueError as error:
        raise SynthpetError(f"{scan}: {error}; check the T1w's header and its brain-extraction QC") from error
    fits = model_grid.brain_fits(mask_img, affine, shape)
    if fits < 0.99:
        raise SynthpetError(
            f"{scan}: the model grid ({'x'.join(map(str, shape))} voxels of {voxel:g} mm) holds only "
            f"{100 * fits:.1f} % of the brain; enlarge preprocess.grid_shape or preprocess.grid_voxel_mm"
        )
    return affine, shape, voxel


def grid_t1w(
    t1: str, mask: str, xfm: str | None, t1_out: str, mask_out: str, settings: GridSettings, scan: str
) -> tuple[nib.Nifti1Image, np.ndarray]:
    """Brain-extracted T1w on the model grid, scaled to [0, 1], and the grid mask; writes both.

    ``xfm``: the scan's T1w -> template transform (``brain_mask``), which orients the grid.
    """
    mask_img = nib.load(mask)
    affine, shape, voxel = _grid_for(mask_img, xfm, settings, scan)
    # resampling a hole-free mask onto a coarse grid can close small enclosed gaps again: fill them
    grid_mask = brain_extraction.fill_enclosed(model_grid.to_grid(mask_img, affine, shape, order=1) > 0.5)
    t1_grid = model_grid.to_grid(_anti_alias(nib.load(t1), voxel), affine, shape)
    scaled = normalize.scale_mri(t1_grid, grid_mask, settings.mri_percentiles, settings.mri_clip)
    save_nifti(scaled, affine, t1_out)
    save_nifti(grid_mask, affine, mask_out, dtype=np.uint8)
    return nib.Nifti1Image(scaled, affine), grid_mask


def to_model_grid(
    t1: str,
    mask: str,
    xfm: str | None,
    pet_t1: str,
    t1_out: str,
    pet_out: str,
    mask_out: str,
    settings: GridSettings,
    scale: PetScale,
    scan: str,
) -> None:
    """Brain-extracted T1w and PET on the model grid, MRI and PET normalized to [0, 1] (the two
    workflow jobs, grid_t1w then grid_pet, in one call)."""
    grid_t1w(t1, mask, xfm, t1_out, mask_out, settings, scan)
    grid_pet(pet_t1, mask_out, pet_out, scale)


def grid_pet(pet_t1: str, grid_mask: str, pet_out: str, scale: PetScale) -> None:
    """A scan's PET in T1w space on its model grid (the grid mask's), scaled to [0, 1] in the brain
    (``normalize.pet_scaling``)."""
    grid = nib.load(grid_mask)
    mask = np.asarray(grid.dataobj) > 0
    pet_grid = pet_to_grid(nib.load(pet_t1), grid.affine, grid.shape)
    save_nifti(scale.apply(pet_grid, mask), grid.affine, pet_out)


def pet_to_grid(pet_t1: nib.Nifti1Image, affine: np.ndarray, shape) -> np.ndarray:
    """A PET image in T1w space on the model grid, anti-aliased for the grid's voxel size."""
    voxel_mm = float(nib.affines.voxel_sizes(affine).max())
    return model_grid.to_grid(_anti_alias(pet_t1, voxel_mm), affine, shape)
