"""Expected-error maps: the other folds' held-out errors, voxel by voxel, against hand computations."""

import nibabel as nib
import numpy as np
import pytest

from synthpet.evaluate.expected_error import agreement, expected_errors


def image(tmp_path, name, data):
    path = tmp_path / f"{name}.nii.gz"
    nib.save(nib.Nifti1Image(np.asarray(data, np.float32), np.eye(4)), path)
    return str(path)


def test_a_scans_map_is_the_mean_error_of_the_other_folds_scans_where_they_cover_it(tmp_path):
    shape = (4, 4, 2)
    pet = np.random.default_rng(0).uniform(0.2, 0.8, shape)
    errors = [0.1, 0.2, 0.3, 0.5]  # scan k's synthetic PET misses by errors[k] everywhere
    folds = [0, 0, 1, 1]
    regions = [np.ones(shape, bool) for _ in errors]
    regions[3][:, :, 1] = False  # scan 3 does not cover the upper slice
    pets = [image(tmp_path, f"pet{k}", pet) for k in range(4)]
    synthetics = [image(tmp_path, f"syn{k}", pet + (e if k % 2 else -e)) for k, e in enumerate(errors)]
    maps = expected_errors(pets, synthetics, regions, folds)
    # fold 0's scans: the mean of scans 2 and 3 (0.4), only scan 2 where scan 3 does not reach
    for k in (0, 1):
        np.testing.assert_allclose(maps[k][:, :, 0], 0.4, atol=1e-6)
        np.testing.assert_allclose(maps[k][:, :, 1], 0.3, atol=1e-6)
    # fold 1's scans: the mean of scans 0 and 1 (0.15), never their own fold (0.4) nor all (0.275)
    for k in (2, 3):
        np.testing.assert_allclose(maps[k], 0.15, atol=1e-6)


def test_no_other_fold_covers_a_voxel_gives_no_expected_error(tmp_path):
    shape = (2, 2, 2)
    pet = np.full(shape, 0.5)
    regions = [np.ones(shape, bool), np.zeros(shape, bool)]
    regions[1][0] = True
    pets = [image(tmp_path, f"pet{k}", pet) for k in range(2)]
    synthetics = [image(tmp_path, f"syn{k}", pet + 0.1) for k in range(2)]
    first, _ = expected_errors(pets, synthetics, regions, [0, 1])
    np.testing.assert_allclose(first[0], 0.1, atol=1e-6)
    assert np.isnan(first[1]).all()


def test_agreement_of_a_map_with_a_scans_actual_error():
    region = np.ones((3, 3, 3), bool)
    actual = np.arange(27, dtype=float).reshape(3, 3, 3) / 100
    foretold = agreement(2 * actual + 0.01, actual, region)  # same ranks, twice the size
    assert foretold["spearman_r"] == pytest.approx(1.0)
    assert foretold["expected_over_actual"] == pytest.approx((2 * actual.mean() + 0.01) / actual.mean())
    assert agreement(actual[::-1, ::-1, ::-1].copy(), actual, region)["spearman_r"] == pytest.approx(-1.0)
