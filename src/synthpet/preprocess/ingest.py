"""Ingest: read a scan's raw images once, check every voxel, and write them in one canonical form.

Downstream steps can then assume RAS+ voxel order, float32, finite values, and PET in SUV (g/mL).
The raw BIDS files are only read, never modified.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthpet.errors import InputError
from synthpet.io.bids import merged_metadata, with_table_weight
from synthpet.io.imageio import load_volume, save_nifti, to_canonical
from synthpet.io.suv import compute_suv, recipe_from_sidecar, suv_range_problem


def ingest_t1w(t1w: str | Path, out: str | Path) -> None:
    data, img = load_volume(t1w, "T1w", ndim=3)
    data, affine = to_canonical(data, img)
    save_nifti(data, affine, out)


def ingest_pet(
    pet: str | Path,
    sidecars: Sequence[str],
    window_min: Sequence[float],
    out: str | Path,
    weight_kg: float | None = None,
) -> None:
    """SUV image of one PET scan (a 3D SUV image as is, or a dynamic series averaged over the window).

    ``weight_kg``: the body weight from the BIDS tables (sessions.tsv, participants.tsv), used as
    BodyWeight; a sidecar that says otherwise is an error.
    """
    data, img = load_volume(pet, "PET", ndim=(3, 4))
    frames = data.shape[3] if data.ndim == 4 else 1
    metadata, problems = with_table_weight(merged_metadata(sidecars), weight_kg, str(pet))
    if problems:
        raise InputError(problems)
    recipe = recipe_from_sidecar(metadata, frames, str(pet))
    suv = compute_suv(data, recipe, window_min, str(pet))
    if float(np.percentile(suv, 99.9)) <= 0:
        raise InputError(f"{pet}: the SUV image has no positive uptake; check the image and its Units")
    implausible = suv_range_problem(suv, recipe.units, str(pet))
    if implausible:
        raise InputError(implausible)
    suv, affine = to_canonical(suv, img)
    save_nifti(suv, affine, out)
