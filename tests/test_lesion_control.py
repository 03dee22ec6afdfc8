"""The positive control read lesion by lesion (synthetic cohort, validation.lesions), on hand-built
volumes whose lesion contrasts are known: a model that draws half of each lesion recovers half."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from synthpet.validation.lesions import fold_population_means, lesion_contrasts, lesion_summary

SHAPE = (40, 44, 36)
# 2 mm voxels, axes flipped and shifted as MNI images are: a mistake in voxel-to-world shows
AFFINE = np.array([[-2.0, 0, 0, 40], [0, 2.0, 0, -46], [0, 0, 2.0, -30], [0, 0, 0, 1]])
CENTRE_MM, RADIUS_MM = (10.0, 4.0, 6.0), 6.0


def _sphere(centre_mm, radius_mm) -> np.ndarray:
    """The lesion drawn through nibabel's voxel-to-world mapping, apart from the code under test."""
    world = nib.affines.apply_affine(AFFINE, np.moveaxis(np.indices(SHAPE), 0, -1))
    return np.linalg.norm(world - np.asarray(centre_mm), axis=-1) < radius_mm


def _cohort(tmp_path, drawn: float):
    """Six scans in three folds, a lesion of contrast 1.5 in each truth (and measured PET) at
    CENTRE_MM; the synthetic PET draws ``drawn`` of its excess. Returns the lesion_contrasts inputs."""
    rng = np.random.default_rng(0)
    lesion = _sphere(CENTRE_MM, RADIUS_MM).astype(np.float32)
    brain = np.zeros(SHAPE, bool)
    brain[2:-2, 2:-2, 2:-2] = True
    paths = {key: [] for key in ("noisefree", "pet", "synthetic", "mask")}
    truths = []
    for i in range(6):
        background = 1.0 + 0.01 * rng.standard_normal(SHAPE).astype(np.float32)
        volumes = {
            "noisefree": background * (1 + 0.5 * lesion),
            "pet": background * (1 + 0.5 * lesion),
            "synthetic": background * (1 + 0.5 * drawn * lesion),
            "mask": brain.astype(np.uint8),
        }
        for key, volume in volumes.items():
            path = tmp_path / f"s{i}_{key}.nii.gz"
            nib.save(nib.Nifti1Image(volume, AFFINE), path)
            paths[key].append(str(path))
        truth = tmp_path / f"s{i}_truth.json"
        truth.write_text(json.dumps({"lesion_centres_reference_mm": [CENTRE_MM], "lesion_radii_mm": [RADIUS_MM]}))
        truths.append(str(truth))
    scans = pd.DataFrame({"scan": [f"s{i}" for i in range(6)], "subject": [f"p{i}" for i in range(6)]})
    scans["fold"] = [i % 3 for i in range(6)]
    return scans, truths, paths


@pytest.mark.parametrize("drawn", [0.0, 0.5, 1.0])
def test_a_model_that_draws_part_of_each_lesion_recovers_that_part(tmp_path, drawn):
    """Every scan has its lesion at one place, so here the population mean has it too: a model is
    read against the truth's contrast over the mean's; with the mean built from lesion-free scans,
    'recovered' is the share of the lesion the model draws (0, a half, all)."""
    scans, truths, paths = _cohort(tmp_path, drawn)
    lesion_free = [str(tmp_path / f"free{i}.nii.gz") for i in range(6)]
    for path in lesion_free:
        nib.save(nib.Nifti1Image(np.ones(SHAPE, np.float32), AFFINE), path)
    popmeans = fold_population_means(lesion_free, paths["mask"], scans["fold"])
    lesions = lesion_contrasts(scans, truths, paths, paths["mask"], popmeans, AFFINE)
    assert len(lesions) == 6
    np.testing.assert_allclose(lesions["contrast_truth"], 1.5, atol=0.01)
    np.testing.assert_allclose(lesions["contrast_popmean"], 1.0, atol=1e-6)
    np.testing.assert_allclose(lesions["contrast_model"], 1 + 0.5 * drawn, atol=0.01)
    np.testing.assert_allclose(lesions["recovered"], drawn, atol=0.03)
    summary = lesion_summary(lesions).iloc[0]
    assert summary["participants"] == 6 and summary["median_recovered"] == pytest.approx(drawn, abs=0.03)
    assert (summary["p_model_over_popmean"] < 0.05) == (drawn > 0)


def test_a_lesion_read_in_the_wrong_place_shows_no_contrast(tmp_path):
    """The centres are world coordinates (mm): read through the voxel indices instead (the affine's
    flip and shift ignored), the same lesion is missed."""
    scans, truths, paths = _cohort(tmp_path, 1.0)
    popmeans = fold_population_means(paths["pet"], paths["mask"], scans["fold"])
    right = lesion_contrasts(scans, truths, paths, paths["mask"], popmeans, AFFINE)
    wrong = lesion_contrasts(scans, truths, paths, paths["mask"], popmeans, np.diag([2.0, 2.0, 2.0, 1.0]))
    assert right["contrast_truth"].min() > 1.4
    assert wrong["contrast_truth"].max() < 1.05


def test_the_population_mean_is_of_the_other_folds_inside_their_brains(tmp_path):
    """Each fold's mean is of the other folds' scans only, each counted inside its own brain."""
    paths, masks = [], []
    for i, value in enumerate([1.0, 2.0, 4.0, 8.0]):
        mask = np.ones(SHAPE, np.uint8)
        mask[0] = 0 if i == 3 else 1  # scan 3's brain leaves out the first slab
        for volume, kind, store in ((np.full(SHAPE, value, np.float32), "pet", paths), (mask, "mask", masks)):
            path = tmp_path / f"{i}_{kind}.nii.gz"
            nib.save(nib.Nifti1Image(volume, AFFINE), path)
            store.append(str(path))
    means = fold_population_means(paths, masks, [0, 0, 1, 1])
    assert means[0][5, 5, 5] == pytest.approx(6.0) and means[0][0, 5, 5] == pytest.approx(4.0)
    assert means[1][5, 5, 5] == pytest.approx(1.5)
