"""Where a scan's synthetic PET is likely to be wrong: its expected-error map, and whether it holds.

A cross-validated scan has one model that never saw it, so no ensemble spread exists for it. Its
expected error is measured instead: voxel by voxel in MNI space, the mean absolute error of the
out-of-fold predictions of the scans in the *other* folds (their own models' errors; cross-fitted,
so no scan's map contains its own fold's errors or its own). How well that map foretells the scan's
own error (Spearman r over its brain voxels, and the ratio of expected to actual mean error) is
reported per scan, so a user can see whether the map deserves trust.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import stats

from synthpet.io.imageio import save_nifti


def _absolute_error(pet: str, synthetic: str, region: np.ndarray) -> np.ndarray:
    error = np.abs(np.asarray(nib.load(synthetic).dataobj, np.float32) - np.asarray(nib.load(pet).dataobj, np.float32))
    return np.where(region, error, 0.0)


def expected_errors(
    pets: list[str], synthetics: list[str], regions: list[np.ndarray], folds: list[int]
) -> list[np.ndarray]:
    """Each scan's expected-error map: the mean |synthetic - measured| of the other folds' scans at
    each voxel, over the scans whose region covers it (NaN where none does). One pass over the
    scans, sums kept per fold, so memory does not grow with the cohort."""
    shape = regions[0].shape
    sums = {fold: np.zeros(shape) for fold in set(folds)}
    counts = {fold: np.zeros(shape) for fold in set(folds)}
    for pet, synthetic, region, fold in zip(pets, synthetics, regions, folds, strict=True):
        sums[fold] += _absolute_error(pet, synthetic, region)
        counts[fold] += region
    total_sum, total_count = sum(sums.values()), sum(counts.values())
    maps = []
    for fold in folds:
        others = total_count - counts[fold]
        with np.errstate(invalid="ignore", divide="ignore"):
            maps.append(np.where(others > 0, (total_sum - sums[fold]) / others, np.nan).astype(np.float32))
    return maps


def agreement(expected: np.ndarray, actual: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """How well an expected-error map foretells one scan's actual error, inside ``region``."""
    inside = region & np.isfinite(expected)
    r = stats.spearmanr(expected[inside], actual[inside]).statistic if inside.sum() > 2 else np.nan
    mean_actual = float(actual[inside].mean()) if inside.any() else np.nan
    return {
        "spearman_r": float(r),
        "expected_mean_error": float(expected[inside].mean()) if inside.any() else np.nan,
        "actual_mean_error": mean_actual,
        "expected_over_actual": float(expected[inside].mean() / mean_actual) if mean_actual else np.nan,
    }


def write_expected_errors(
    inputs: dict, outputs: list[str], table_out: str, scans: list[str], folds: list[int], voxel_mm: int
) -> None:
    """The expected-error map of every scan (``outputs``, in the order of ``scans``) and the table of
    how well each foretells the scan's own error."""
    from synthpet.evaluate.measures import scored_region
    from synthpet.evaluate.statistics import write_tsv

    regions = [scored_region(voxel_mm, mask) for mask in inputs["mask"]]
    maps = expected_errors(inputs["pet"], inputs["synthetic"], regions, folds)
    rows = []
    for scan, fold, expected, pet, synthetic, region, out in zip(
        scans, folds, maps, inputs["pet"], inputs["synthetic"], regions, outputs, strict=True
    ):
        affine = nib.load(pet).affine
        save_nifti(np.where(region, np.nan_to_num(expected), 0.0), affine, out)
        rows.append(
            {"scan": scan, "fold": fold, **agreement(expected, _absolute_error(pet, synthetic, region), region)}
        )
    write_tsv(pd.DataFrame(rows), table_out)
