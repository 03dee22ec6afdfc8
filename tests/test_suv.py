import math

import numpy as np
import pytest
from conftest import dynamic_sidecar

from synthpet.errors import InputError
from synthpet.io.suv import (
    activity_to_bq,
    compute_suv,
    half_life_s,
    recipe_from_sidecar,
    suv_range_problem,
    window_weights,
)


def test_dynamic_suv_matches_a_hand_computation():
    # frames 50-60, 60-70, 70-80, 80-90 min; the 60-90 window takes the last three equally
    sidecar = dynamic_sidecar() | {"FrameTimesStart": [3000, 3600, 4200, 4800], "FrameDuration": [600] * 4}
    frames = np.stack([np.full((2, 2, 2), v, dtype=np.float32) for v in (9000.0, 6000.0, 5000.0, 4000.0)], axis=-1)
    recipe = recipe_from_sidecar(sidecar, 4, "pet.nii.gz")
    suv = compute_suv(frames, recipe, (60, 90))
    # mean concentration 5000 Bq/mL; dose 370e6 Bq into 74,000 g -> 5000 Bq/g
    assert suv.dtype == np.float32
    np.testing.assert_allclose(suv, 1.0, rtol=1e-6)


def test_partial_frames_are_weighted_by_their_overlap():
    # frames 55-75 and 75-95 min; the 60-90 window takes 15 min of each
    weights = window_weights([3300, 4500], [1200, 1200], (60, 90))
    np.testing.assert_allclose(weights, [0.5, 0.5])
    weights = window_weights([3600, 4800], [1200, 1200], (60, 90))  # 60-80 (20 min), 80-100 (10 min)
    np.testing.assert_allclose(weights, [2 / 3, 1 / 3])


def test_units_are_converted():
    sidecar = dynamic_sidecar(1) | {
        "Units": "kBq/mL",
        "InjectedRadioactivity": 10.0,
        "InjectedRadioactivityUnits": "mCi",
        "FrameTimesStart": [3600],
        "FrameDuration": [1800],
    }
    recipe = recipe_from_sidecar(sidecar, 1, "pet")
    suv = compute_suv(np.full((2, 2, 2), 5.0, dtype=np.float32), recipe, (60, 90))
    # 5 kBq/mL / (3.7e8 Bq / 74,000 g) = 5000 / 5000
    np.testing.assert_allclose(suv, 1.0, rtol=1e-6)
    assert activity_to_bq(1, "GBq") == 1e9


def test_images_that_are_not_decay_corrected_are_corrected_to_injection():
    sidecar = dynamic_sidecar(1) | {"ImageDecayCorrected": False, "FrameTimesStart": [3600], "FrameDuration": [1800]}
    recipe = recipe_from_sidecar(sidecar, 1, "pet")
    measured = np.full((1, 1, 1), 1000.0, dtype=np.float32)
    lam = math.log(2) / 1221.84
    # a frame's measured mean is A0 * (exp(-lam t0) - exp(-lam t1)) / (lam d)
    expected_a0 = 1000.0 * lam * 1800 / (math.exp(-lam * 3600) - math.exp(-lam * 5400))
    np.testing.assert_allclose(compute_suv(measured, recipe, (60, 90)), expected_a0 / 5000.0, rtol=1e-5)


def test_suv_images_pass_through():
    recipe = recipe_from_sidecar({"Units": "g/mL"}, 1, "pet")
    data = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    np.testing.assert_array_equal(compute_suv(data, recipe, (60, 90)), data)


def test_missing_timing_and_dose_fields_are_all_named():
    with pytest.raises(InputError) as caught:
        recipe_from_sidecar({"Units": "Bq/mL"}, 5, "sub-01_pet.nii.gz")
    message = str(caught.value)
    assert "sub-01_pet.nii.gz" in message
    for field in ("InjectedRadioactivity", "BodyWeight", "FrameTimesStart", "FrameDuration"):
        assert field in message


@pytest.mark.parametrize(
    "change, words",
    [
        ({"FrameDuration": [600, 600]}, "must list 3 numbers"),
        ({"InjectedRadioactivityUnits": "furlongs"}, "unknown InjectedRadioactivityUnits"),
        ({"BodyWeight": 0.07}, "not a plausible weight"),
        ({"Units": "counts"}, "unknown PET Units"),
        ({"ImageDecayCorrected": False, "TracerRadionuclide": "Xx99"}, "known radionuclide"),
    ],
)
def test_bad_sidecar_values(change, words):
    with pytest.raises(InputError, match=words):
        recipe_from_sidecar(dynamic_sidecar() | change, 3, "pet")


def test_window_not_covered_by_frames():
    with pytest.raises(InputError, match="cover only 10.0 of the 60-90 min"):
        window_weights([3600], [600], (60, 90), "pet")


def test_4d_image_in_suv_units_is_refused():
    with pytest.raises(InputError, match="cannot be in SUV units"):
        recipe_from_sidecar({"Units": "g/mL"}, 4, "pet")


@pytest.mark.parametrize("name", ["11C", "C11", "C-11", "[11C]", "c11"])
def test_half_life_spellings(name):
    assert half_life_s(name) == pytest.approx(1221.84)
    assert half_life_s("unobtainium") is None


# --- units that lie: values a sidecar labels with the wrong unit -----------------------------------


@pytest.mark.parametrize(
    ("amount", "unit", "likely"),
    [
        (370e6, "MBq", "Bq labelled MBq"),  # a dose in Bq: SUV a million times too low
        (370.0, "mCi", "MBq labelled mCi"),  # MBq as mCi: 37 times too low
        (370e3, "MBq", "kBq labelled MBq"),
        (0.37, "MBq", "GBq labelled MBq"),
    ],
)
def test_a_dose_in_the_wrong_unit_is_refused_with_the_likely_unit(amount, unit, likely):
    sidecar = dynamic_sidecar() | {"InjectedRadioactivity": amount, "InjectedRadioactivityUnits": unit}
    with pytest.raises(InputError, match=f"'InjectedRadioactivity'.*looks like {likely}"):
        recipe_from_sidecar(sidecar, 3, "pet.nii.gz")


@pytest.mark.parametrize(("amount", "unit"), [(370.0, "MBq"), (10.0, "mCi"), (0.555, "GBq"), (25.0, "MBq")])
def test_plausible_doses_pass(amount, unit):
    sidecar = dynamic_sidecar() | {"InjectedRadioactivity": amount, "InjectedRadioactivityUnits": unit}
    assert recipe_from_sidecar(sidecar, 3, "pet.nii.gz").dose_bq == pytest.approx(activity_to_bq(amount, unit))


def test_frame_times_in_milliseconds_are_refused():
    """DICOM gives frame times in ms: read as seconds, 60-90 min became 16.7-25 h, and frame 0 alone
    covered the SUV window, so the check of the window's coverage passed."""
    sidecar = dynamic_sidecar() | {"FrameTimesStart": [3.6e6, 4.2e6, 4.8e6], "FrameDuration": [6e5] * 3}
    with pytest.raises(InputError, match="look like milliseconds .in seconds the frames would end at 90 min"):
        recipe_from_sidecar(sidecar, 3, "pet.nii.gz")
    # the same frames in seconds pass; a long-lived tracer may be imaged days after injection
    assert recipe_from_sidecar(dynamic_sidecar(), 3, "pet.nii.gz").frame_starts_s[-1] == 4800
    days_later = dynamic_sidecar() | {
        "TracerRadionuclide": "89Zr",
        "FrameTimesStart": [86400.0 * 3 + 600 * i for i in range(3)],
    }
    assert recipe_from_sidecar(days_later, 3, "pet.nii.gz").frame_starts_s[0] == 259200.0


@pytest.mark.parametrize(
    ("scale", "units", "words"),
    [
        (1e3, "kBq/mL", "1000 times too high: the image looks like Bq/mL labelled kBq/mL"),
        (1e-3, "Bq/mL", "1000 times too low: the image looks like kBq/mL labelled Bq/mL"),
        (5000.0, "g/mL", "'Units' is 'g/mL', but the values look like an activity concentration"),
    ],
)
def test_an_image_in_the_wrong_unit_is_refused_by_its_suv_range(scale, units, words):
    brain = np.random.default_rng(0).uniform(0.3, 2.5, size=(10, 10, 10))  # SUVs of a [11C]PBR28 brain
    assert suv_range_problem(brain, units, "pet.nii.gz") is None
    problem = suv_range_problem(brain * scale, units, "pet.nii.gz")
    assert problem is not None and problem.startswith("pet.nii.gz: ") and words in problem
