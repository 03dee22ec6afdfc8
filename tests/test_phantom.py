import hashlib
import json

import nibabel as nib
import numpy as np
import pytest
from conftest import SMALL_PHANTOM, validator_errors
from nibabel.processing import resample_from_to

from synthpet.errors import ConfigError
from synthpet.io import bids
from synthpet.io.config import validate_config
from synthpet.preprocess.ingest import ingest_pet
from synthpet.validation import phantom


def digest(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_is_seeded_and_genotypes_are_balanced():
    config = validate_config({})
    first = phantom.cohort_layout(config["phantom"], 42)
    assert first == phantom.cohort_layout(config["phantom"], 42)
    assert first != phantom.cohort_layout(config["phantom"], 7)
    hab = sum(p.genotype == "HAB" for p in first if p.group == "HC")
    assert hab == round(0.55 * 28)


def test_lab_participants_are_planned_and_excluded():
    config = validate_config({"phantom": {"lab_participants": 3}})
    cohort = phantom.planned_cohort(config)
    assert len(cohort.excluded) >= 3 and all("LAB" in r for r in cohort.excluded.values())
    assert all(s.genotype != "LAB" for s in cohort.scans)


@pytest.mark.parametrize(
    ("settings", "key", "words"),
    [
        (
            {"group_effects": {"KOA": {"factor": 1.1, "regions": ["Left_Thalamu"]}}},
            "group_effects.KOA.regions",
            "Left_Thalamu",
        ),
        ({"cohort": [{"group": "XX", "sessions": 1, "participants": 2}]}, "cohort.0.group", "not one of"),
        ({"cohort": [{"group": "HC", "sessions": 1, "participants": 0}]}, "cohort", "no participants"),
        (
            {"hab_over_mab": 2.5, "nondisplaceable_fraction": 0.45},
            "nondisplaceable_fraction",
            "negative specific binding",
        ),
    ],
)
def test_the_synthetic_cohorts_settings_are_checked_when_it_is_planned(settings, key, words):
    """Each problem names its key, from the planner (plan_run with the harness's DATASETS), before any job."""
    from synthpet.plan import plan_run

    config = {"phantom": settings}
    validate_config(config)  # the method's own checks pass: these keys are the harness's
    with pytest.raises(ConfigError) as caught:
        plan_run(config, datasets=phantom.DATASETS)
    assert f"'phantom.{key}'" in str(caught.value) and words in str(caught.value)


def test_same_seed_gives_identical_bytes(small_phantom, tmp_path):
    root, config = small_phantom
    again = tmp_path / "again"
    phantom.generate(again, config)
    assert digest(root) == digest(again)


def test_another_seed_gives_another_cohort(small_phantom, tmp_path):
    root, config = small_phantom
    other = tmp_path / "other"
    phantom.generate(other, validate_config(SMALL_PHANTOM | {"seed": 7}))
    t1 = "sub-001/ses-01/anat/sub-001_ses-01_T1w.nii.gz"
    assert digest(root)[t1] != digest(other)[t1]


def test_dataset_is_discoverable_and_matches_the_plan(small_phantom):
    root, config = small_phantom
    found = bids.discover(root, config["input"])
    planned = phantom.planned_cohort(config | {"output_dir": str(root.parent)})
    assert [(s.id, s.group, s.genotype) for s in found.scans] == [(s.id, s.group, s.genotype) for s in planned.scans]
    assert len(found.scans) == 4


def test_dataset_passes_the_bids_validator(small_phantom):
    root, _ = small_phantom
    assert validator_errors(root) == []


def noise_residual(noisefree, measured, matrix):
    """(measured - truth) / sqrt(truth) in the brain, the truth moved by ``matrix`` with nibabel
    (resampling code independent of the phantom's)."""
    moved = nib.Nifti1Image(noisefree.get_fdata(), matrix @ noisefree.affine)
    expected = resample_from_to(moved, measured, order=1).get_fdata()
    brain = expected > 0.5 * expected.max()
    return (measured.get_fdata() - expected)[brain] / np.sqrt(expected[brain])


def test_ground_truth_is_consistent_with_the_images(small_phantom, tmp_path):
    """The stored transform and noise-free PET explain the PET up to the configured noise."""
    root, config = small_phantom
    kinds_seen = set()
    for participant in phantom.cohort_layout(config["phantom"], config["seed"]):
        for session in participant.sessions:
            sub = participant.subject
            truth = json.loads((root / phantom.truth_path("", sub, session, "json")).read_text())
            noisefree = nib.load(root / phantom.truth_path("", sub, session, "noisefree"))
            mask = nib.load(root / phantom.truth_path("", sub, session, "mask")).get_fdata() > 0
            t1 = nib.load(root / phantom.t1w_path("", sub, session)).get_fdata()
            assert 900e3 < mask.sum() * 8 < 2200e3  # brain volume in mm^3
            assert t1[mask].mean() > 2 * t1[~mask].mean()

            pet = root / phantom.pet_path("", sub, session)
            suv_file = tmp_path / f"{sub}_{session}_suv.nii.gz"
            ingest_pet(pet, [str(pet).replace(".nii.gz", ".json")], (60, 90), suv_file)
            measured = nib.load(suv_file)

            true_residual = noise_residual(noisefree, measured, np.array(truth["t1w_to_pet_world"]))
            assert abs(true_residual.mean()) < 0.01
            assert true_residual.std() == pytest.approx(config["phantom"]["pet_noise"], rel=0.1)
            assert noise_residual(noisefree, measured, np.eye(4)).std() > 1.5 * true_residual.std()
            kinds_seen.add(truth["dynamic"])
    assert kinds_seen == {True, False}  # both the dynamic and the static PET were checked


def test_planted_genotype_effect(small_phantom):
    root, config = small_phantom
    effects = json.loads((root / phantom.GROUNDTRUTH / "effects.json").read_text())
    genotypes = {p: e["genotype_factor"] for p, e in effects["participants"].items()}
    assert set(genotypes.values()) <= {1.0, 1 / 1.4}


def test_scans_lie_in_the_scanner_as_real_heads_do(small_phantom):
    """Head poses, axis orders and oblique grids vary, so nothing downstream can assume the template's axes."""
    from synthpet.preprocess.model_grid import nearest_rotation

    root, config = small_phantom
    orders, obliques, tilts = set(), [], []
    for truth_file in sorted((root / phantom.GROUNDTRUTH).rglob("*_truth.json")):
        truth = json.loads(truth_file.read_text())
        subject, session = truth["scan"].removeprefix("sub-").split("_ses-")
        t1 = nib.load(root / phantom.t1w_path("", subject, session))
        truth_mask = nib.load(root / phantom.truth_path("", subject, session, "mask"))
        assert "".join(nib.aff2axcodes(t1.affine)) == truth["t1w_axis_order"]
        assert np.allclose(truth_mask.affine, t1.affine)  # the truth is stored on the T1w's own grid
        directions = t1.affine[:3, :3] / np.linalg.norm(t1.affine[:3, :3], axis=0)
        assert (np.abs(directions).max(axis=0).min() < 0.999) == truth["t1w_oblique"]
        rotation = nearest_rotation(np.array(truth["head_pose_world"])[:3, :3])
        tilts.append(np.degrees(np.arccos((np.trace(rotation) - 1) / 2)))
        orders.add(truth["t1w_axis_order"])
        obliques.append(truth["t1w_oblique"])
    assert len(orders) >= 2 and any(obliques) and not all(obliques)
    limit = config["phantom"]["max_head_rotation_deg"]
    assert max(tilts) > 5 and max(tilts) <= np.sqrt(3) * limit + 1e-6


def test_a_scan_rendered_as_the_other_genotype_differs_only_by_the_genotype(small_phantom):
    """The truth behind the genotype benchmark: the same scan re-rendered as its own genotype is its stored
    noise-free PET exactly (the genotype enters no random draw), and as the other genotype it changes by
    the planted specific-binding ratio, more where TSPO is denser."""
    root, config = small_phantom
    settings, seed = config["phantom"], config["seed"]
    reference = phantom.build_reference(settings["t1_voxel_mm"])
    participant = next(p for p in phantom.cohort_layout(settings, seed) if p.genotype in ("HAB", "MAB"))
    session = participant.sessions[0]
    stored = nib.load(root / phantom.truth_path("", participant.subject, session, "noisefree"))
    again = phantom.noisefree_as(reference, participant, session, settings, seed, participant.genotype)
    assert np.array_equal(again.get_fdata(), stored.get_fdata()) and np.allclose(again.affine, stored.affine)
    other = "MAB" if participant.genotype == "HAB" else "HAB"
    swapped = phantom.noisefree_as(reference, participant, session, settings, seed, other).get_fdata()
    hab, mab = (stored.get_fdata(), swapped) if other == "MAB" else (swapped, stored.get_fdata())
    brain = hab > 0.5 * hab.max()
    ratio = mab[brain] / hab[brain]
    assert 0.55 < np.median(ratio) < 0.95 and ratio.max() <= 1.0 + 1e-6


def test_each_participant_has_uptake_that_the_anatomy_does_not_show(small_phantom):
    """The individual pattern: off when its settings are 0; a hotspot peaks at its gain, at its
    recorded grey-matter centre; participants differ. In the written truth, the anatomical part is the
    noise-free PET without it (and without the regional jitter and group effects): same scale, but
    not the same image."""
    root, config = small_phantom
    settings, seed = config["phantom"], config["seed"]
    reference = phantom.build_reference(settings["t1_voxel_mm"])
    first, second = phantom.cohort_layout(settings, seed)[:2]
    off = dict(settings, individual=dict(settings["individual"], field_sd=0, hotspots=0))
    assert np.all(phantom.individual_pattern(reference, first, off, seed)[0] == 1.0)

    one_spot = dict(settings, individual=dict(settings["individual"], field_sd=0, hotspots=1, hotspot_gain=2.0))
    pattern, centres = phantom.individual_pattern(reference, first, one_spot, seed)
    peak = np.unravel_index(np.argmax(pattern), pattern.shape)
    world = reference.affine[:3, :3] @ np.array(peak) + reference.affine[:3, 3]
    assert pattern.max() == pytest.approx(2.0, rel=0.01) and np.allclose(world, centres[0])
    assert reference.uptake[peak] > 0.9  # grey matter

    default_first = phantom.individual_pattern(reference, first, settings, seed)[0]
    default_second = phantom.individual_pattern(reference, second, settings, seed)[0]
    brain = reference.mask > 0
    assert 0.04 < np.log(default_first[brain]).std() < 0.15
    assert np.corrcoef(default_first[brain], default_second[brain])[0, 1] < 0.5

    subject, session = first.subject, first.sessions[0]
    noisefree = nib.load(root / phantom.truth_path("", subject, session, "noisefree"))
    anatomical = nib.load(root / phantom.truth_path("", subject, session, "anatomical"))
    assert anatomical.shape == noisefree.shape and np.allclose(anatomical.affine, noisefree.affine)
    inside = nib.load(root / phantom.truth_path("", subject, session, "mask")).get_fdata() > 0
    ratio = noisefree.get_fdata()[inside] / anatomical.get_fdata()[inside]
    assert 0.85 < np.median(ratio) < 1.15 and ratio.std() > 0.03


def test_lesions_are_anatomy_the_t1w_shows_with_raised_tspo(small_phantom, tmp_path):
    """The positive control: the same scan made with and without lesions (their draws are a stream of
    their own, so nothing else changes). Where the lesions are, the T1w is darker and the noise-free PET
    and its anatomical part are higher; elsewhere the T1w is unchanged; the lesions' volume is what the
    truth records, in white matter."""
    root, config = small_phantom
    settings, seed = config["phantom"], config["seed"]
    reference = phantom.build_reference(settings["t1_voxel_mm"])
    participant = phantom.cohort_layout(settings, seed)[0]
    session = participant.sessions[0]
    images = {}
    for name, count in (("with", 4), ("without", 0)):
        lesions = dict(settings["lesions"], count=count, radius_mm=[6, 8], tspo_gain=2.0)
        truth = phantom.make_scan(
            reference, participant, session, dict(settings, lesions=lesions), seed, (60.0, 90.0), tmp_path / name
        )
        where = (tmp_path / name, participant.subject, session)
        images[name] = {
            "truth": truth,
            "t1w": nib.load(phantom.t1w_path(*where)).get_fdata(),
            **{kind: nib.load(phantom.truth_path(*where, kind)).get_fdata() for kind in ("noisefree", "anatomical")},
        }
    recorded, unlesioned = images["with"]["truth"], images["without"]["truth"]
    assert len(recorded["lesion_centres_reference_mm"]) == 4 and not unlesioned["lesion_centres_reference_mm"]
    darker = images["with"]["t1w"] < images["without"]["t1w"] - 50
    changed = images["with"]["t1w"] != images["without"]["t1w"]
    voxel_ml = settings["t1_voxel_mm"] ** 3 / 1000.0
    expected_ml = sum(4 / 3 * np.pi * (r / 10) ** 3 for r in recorded["lesion_radii_mm"])
    # the head's own size varies by +-7 % per axis, and the edges are partial volumes
    assert 0.5 * expected_ml < darker.sum() * voxel_ml < 1.5 * expected_ml, (darker.sum() * voxel_ml, expected_ml)
    assert changed.sum() < 2 * darker.sum()  # nothing changes outside the lesions and their edges
    for kind in ("noisefree", "anatomical"):
        gain = images["with"][kind][darker] / images["without"][kind][darker]
        assert np.median(gain) > 1.3, (kind, np.median(gain))  # 2x density, blurred by the PET's resolution
    # lesions sit in white matter: before them, their voxels were white-matter bright
    assert np.median(images["without"]["t1w"][darker]) > 0.9 * phantom.T1_INTENSITY["wm"]


def test_a_users_pattern_image_replaces_the_regional_pattern(tmp_path):
    """An MNI-space map with the left hemisphere 1.5x the right: the scan's anatomical part (in the
    scan's own tilted T1w space, hemispheres found through the stored head pose) follows it."""
    from synthpet.io.config import validate_config

    maps = phantom.mni_tissue_maps(2)
    centres = nib.affines.apply_affine(maps.affine, np.indices(maps.mask.shape).reshape(3, -1).T)
    pattern = np.where(centres[:, 0] < 0, 1.5, 1.0).reshape(maps.mask.shape)  # RAS: x < 0 is left
    path = tmp_path / "pattern.nii.gz"
    nib.save(nib.Nifti1Image(pattern.astype(np.float32), maps.affine), path)
    config = validate_config({**SMALL_PHANTOM, "phantom": {**SMALL_PHANTOM["phantom"], "pattern_image": str(path)}})
    settings = dict(config["phantom"], individual=dict(config["phantom"]["individual"], field_sd=0, hotspots=0))
    reference = phantom.build_reference(2)
    participant = phantom.cohort_layout(settings, 42)[0]
    session = participant.sessions[0]
    truth = phantom.make_scan(reference, participant, session, settings, 42, (60.0, 90.0), tmp_path / "out")
    anatomical = nib.load(tmp_path / "out" / phantom.truth_path("", participant.subject, session, "anatomical"))
    brain = nib.load(tmp_path / "out" / phantom.truth_path("", participant.subject, session, "mask")).get_fdata() > 0
    world = nib.affines.apply_affine(anatomical.affine, np.argwhere(brain))
    in_reference = nib.affines.apply_affine(np.array(truth["head_pose_world"]), world)  # head point -> template
    values = anatomical.get_fdata()[brain]
    left, right = values[in_reference[:, 0] < -10].mean(), values[in_reference[:, 0] > 10].mean()
    assert left / right > 1.3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (-np.ones((5, 5, 5)), "negative or non-finite"),
        (np.ones((5, 5, 5, 2)), "3D pattern"),
        (np.ones((5, 5, 5)), "positive in only"),  # a 5-voxel cube far from the brain
    ],
)
def test_a_bad_pattern_image_names_the_setting(tmp_path, data, message):
    from synthpet.plan import plan_run

    path = tmp_path / "pattern.nii.gz"
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = 500.0  # outside any head
    nib.save(nib.Nifti1Image(data.astype(np.float32), affine), path)
    config = {**SMALL_PHANTOM, "phantom": {**SMALL_PHANTOM["phantom"], "pattern_image": str(path)}}
    if message == "positive in only":
        from synthpet.io.config import validate_config

        settings = validate_config(config)["phantom"]
        with pytest.raises(ConfigError, match="phantom.pattern_image.*positive in only 0%"):
            phantom.cohort_density(phantom.build_reference(2), settings, 42)
    else:
        with pytest.raises(ConfigError, match=f"phantom.pattern_image.*{message}"):
            plan_run(config, datasets=phantom.DATASETS)  # before any job
    with pytest.raises(ConfigError, match="does not exist"):
        plan_run(
            {**config, "phantom": {**config["phantom"], "pattern_image": str(tmp_path / "missing.nii.gz")}},
            datasets=phantom.DATASETS,
        )
