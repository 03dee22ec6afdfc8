"""SUVR images: a ratio to the mean of a reference region, checked by hand on small arrays."""

import numpy as np
import pytest

from synthpet.errors import ConfigError, InputError
from synthpet.evaluate.atlas import Atlas
from synthpet.evaluate.suvr import reference_mask, to_suvr
from synthpet.plan import plan_run
from synthpet.validation.phantom import DATASETS


def test_ratio_to_the_reference_mean_by_hand():
    volume = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    reference = np.array([[True, False], [True, False]])  # mean of 1 and 3 is 2
    assert np.allclose(to_suvr(volume, reference), [[0.5, 1.0], [1.5, 2.0]])


def test_reference_is_the_union_of_named_regions_inside_the_brain():
    brain = np.array([1, 1, 1, 1, 0], bool)
    atlas = Atlas(("a", "b", "c"), np.array([[1, 0, 0, 0, 1], [0, 1, 0, 0, 0], [0, 0, 1, 1, 0]], bool))
    assert reference_mask(brain, atlas, ["a", "b"]).tolist() == [True, True, False, False, False]
    assert reference_mask(brain).tolist() == brain.tolist()  # no names: the whole brain
    volume = np.array([2.0, 4.0, 9.0, 9.0, 100.0], np.float32)
    assert np.allclose(to_suvr(volume, reference_mask(brain, atlas, ["a", "b"])), volume / 3.0)
    with pytest.raises(ConfigError, match="'evaluation.suvr_reference': d not in the atlas"):
        reference_mask(brain, atlas, ["d"])


def test_empty_or_non_positive_reference_is_refused_by_name():
    with pytest.raises(InputError, match="scan.nii.gz: the SUVR reference region"):
        to_suvr(np.ones(3, np.float32), np.zeros(3, bool), "scan.nii.gz")
    with pytest.raises(InputError, match="positive mean"):
        to_suvr(np.array([-1.0, 1.0, -2.0], np.float32), np.array([True, False, True]), "scan.nii.gz")


def test_unknown_reference_region_stops_the_plan():
    with pytest.raises(ConfigError, match="'evaluation.suvr_reference': Nowhere not in the atlas"):
        plan_run({"evaluation": {"suvr_reference": ["Left_Thalamus", "Nowhere"]}}, datasets=DATASETS)
    plan_run({"evaluation": {"suvr_reference": ["Left_Thalamus", "Right_Cerebral_White_Matter"]}}, datasets=DATASETS)
