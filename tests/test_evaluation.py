"""Evaluation: metrics against hand computations, statistics against independent implementations,
the atlas, and the noise-free truth's scaling."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from conftest import write_nifti
from scipy import stats

from synthpet.errors import ConfigError
from synthpet.evaluate import atlas, metrics, statistics
from synthpet.learn.genotype import GenotypeModel
from synthpet.preprocess.settings import PetScale
from synthpet.validation.truth import noisefree_on_grid


def test_voxelwise_metrics_match_hand_computations():
    r = np.array([0.2, 0.5, 0.0, 0.9])
    t = np.array([0.1, 0.5, 0.0, 0.6])
    assert metrics.mse(r, t) == pytest.approx((0.01 + 0 + 0 + 0.09) / 4)
    # the voxel where both are 0 has no NormDiff; the others: 0.1/0.3, 0, 0.3/1.5
    assert metrics.normdiff(r, t) == pytest.approx((0.1 / 0.3 + 0 + 0.3 / 1.5) / 3)
    # T <= 0.05 is left out of PercDiff: 0.1/0.1, 0, 0.3/0.6
    assert metrics.percdiff(r, t, 0.05) == pytest.approx((1.0 + 0 + 0.5) / 3)
    assert metrics.compare(r, t, 0.05)["percent_mse"] == pytest.approx(100 * metrics.mse(r, t))
    assert -1 <= metrics.normdiff(np.random.default_rng(0).random(50), np.random.default_rng(1).random(50)) <= 1


def test_boxes_lie_inside_the_mask_exactly_where_brute_force_says():
    mask = np.random.default_rng(3).random((9, 8, 7)) > 0.15
    mask[2:8, 1:7, 1:6] = True
    box = (3, 2, 2)
    brute = {
        (i, j, k)
        for i in range(9 - 2)
        for j in range(8 - 1)
        for k in range(7 - 1)
        if mask[i : i + 3, j : j + 2, k : k + 2].all()
    }
    assert {tuple(o) for o in metrics.box_origins(mask, box)} == brute


def test_cnr_with_a_fixed_seed_matches_a_hand_computation():
    # the volume is its x index; a 5x4x3 mask admits boxes of 4x4x3 at x = 0 and x = 1 only
    volume = np.broadcast_to(np.arange(5.0)[:, None, None], (5, 4, 3)).copy()
    mask = np.ones((5, 4, 3), bool)
    pairs = metrics.draw_box_pairs(mask, 101, (4, 4, 3), seed=7)
    assert np.array_equal(pairs, metrics.draw_box_pairs(mask, 101, (4, 4, 3), seed=7))
    # box at x=0 holds 0..3 (mean 1.5), at x=1 holds 1..4 (mean 2.5); pooled SD of both is sqrt(1.5)
    first_x = np.unravel_index(pairs[:, 0, 0], mask.shape)[0]
    second_x = np.unravel_index(pairs[:, 1, 0], mask.shape)[0]
    hand = (first_x - second_x) / np.sqrt(1.5)
    assert metrics.cnr(volume, pairs) == pytest.approx(float(np.median(hand)))
    assert set(np.round(hand, 4)) <= {0.0, 0.8165, -0.8165}


def test_median_split_p_is_scipys_mann_whitney():
    rng = np.random.default_rng(5)
    smoothed = rng.random(14)
    synthetic = smoothed + rng.normal(0, 0.2, 14)
    high = smoothed > np.median(smoothed)
    expected = stats.mannwhitneyu(synthetic[high], synthetic[~high], alternative="two-sided").pvalue
    assert statistics.median_split_p(smoothed, synthetic) == pytest.approx(expected, rel=1e-6)
    assert np.isnan(statistics.median_split_p(smoothed[:3], synthetic[:3]))


def regions_table(rng, scans=12):
    """Regional values of ``scans`` scans of 10 participants: scans 10 and 11 are second sessions of
    participants 0 and 2."""
    rows = []
    for s in range(scans):
        subject = s if s < 10 else 2 * (s - 10)
        for region in ("Left_Thalamus", "Right_Thalamus", "Brain-Stem"):
            pet = rng.random()
            rows.append(
                {
                    "scan": f"s{s}",
                    "subject": f"{subject}",
                    "group": "HC" if subject % 2 else "KOA",
                    "genotype": "HAB" if subject < 6 else "MAB",
                    "region": region,
                    "pet": pet,
                    "pet_smoothed": pet * 0.9 + 0.05 * rng.random(),
                    "synthetic": pet + 0.1 * rng.random(),
                    "t1w": rng.random(),
                }
            )
    return pd.DataFrame(rows)


def test_correlations_and_group_tests_match_scipy_over_participants():
    """Repeated scans of a participant count once (their mean): tests over scans would be too confident."""
    regions = regions_table(np.random.default_rng(2))
    table = statistics.correlations(regions)
    part = regions[regions["region"] == "Brain-Stem"].groupby("subject")[["pet", "pet_smoothed", "synthetic"]].mean()
    part["group"] = ["HC" if int(s) % 2 else "KOA" for s in part.index]
    row = table[(table["region"] == "Brain-Stem") & (table["pair"] == "synthetic vs pet_smoothed")].iloc[0]
    expected = stats.pearsonr(part["synthetic"], part["pet_smoothed"])
    assert row["participants"] == 10
    assert row["r"] == pytest.approx(expected.statistic) and row["p"] == pytest.approx(expected.pvalue, rel=1e-6)

    groups = statistics.group_comparison(regions, ["Brain-Stem"])
    koa = part[part["group"] == "KOA"]
    expected = stats.wilcoxon(koa["pet"], koa["synthetic"]).pvalue
    assert groups.set_index("group").loc["KOA", "p_wilcoxon"] == pytest.approx(expected, rel=1e-6)
    assert groups.set_index("group").loc["KOA", "participants"] == 5

    table3 = statistics.table3_median_split(regions, ["Left_Thalamus"])
    assert list(table3.columns) == ["region", "participants", "p_ALL", "p_HAB", "p_MAB"]
    thalamus = regions[regions["region"] == "Left_Thalamus"].groupby("subject")[["pet_smoothed", "synthetic"]].mean()
    expected = statistics.median_split_p(thalamus["pet_smoothed"], thalamus["synthetic"])
    assert table3.loc[0, "p_ALL"] == expected and table3.loc[0, "participants"] == 10
    table2 = statistics.table2_regional(regions)
    assert table2.iloc[-1]["region"] == "all regions"
    assert table2.iloc[-1]["original_mean"] == pytest.approx(regions["pet"].mean())


def test_specificity_own_versus_other_participants():
    rng = np.random.default_rng(4)
    truth = rng.random((8, 200))
    synthetic = truth + rng.normal(0, 0.05, truth.shape)  # each close to its own truth
    scans = pd.DataFrame({"scan": [f"s{i}" for i in range(8)], "subject": ["a", "a", "b", "c", "d", "e", "f", "f"]})
    per_scan, summary = statistics.table5_specificity(scans, synthetic, {"pet": truth}, 0.05)
    assert per_scan.loc[0, "mse_own_pet"] == pytest.approx(metrics.mse(synthetic[0], truth[0]))
    # scan 0's others exclude scan 1: the same participant
    others = np.mean([metrics.mse(synthetic[0], truth[j]) for j in range(2, 8)])
    assert per_scan.loc[0, "mse_others_pet"] == pytest.approx(others)
    # the test runs over the 6 participants, each participant's scans averaged
    means = per_scan.groupby("subject")[["mse_own_pet", "mse_others_pet"]].mean()
    expected = stats.wilcoxon(means["mse_own_pet"], means["mse_others_pet"], alternative="less").pvalue
    assert summary.loc[0, "p_own_mse_lower"] == pytest.approx(expected, rel=1e-6) and expected < 0.05
    assert summary.loc[0, "participants"] == 6 and summary.loc[0, "scans"] == 8


def calibration_cohort(participants=10, voxels=400, seed=7):
    """True PET of one scan per participant: a shared pattern plus a participant's own pattern."""
    rng = np.random.default_rng(seed)
    shared = rng.uniform(0.2, 0.8, voxels)
    truth = np.clip(shared + rng.normal(0, 0.08, (participants, voxels)), 0, 1)
    scans = pd.DataFrame(
        {
            "scan": [f"s{i}" for i in range(participants)],
            "subject": [f"p{i}" for i in range(participants)],
            "fold": [str(i % 5) for i in range(participants)],
        }
    )
    return scans, truth


def specificity_p(scans, synthetic, truth) -> float:
    _, summary = statistics.table5_specificity(scans, synthetic, {"pet": truth}, 0.05)
    return float(summary.loc[0, "p_own_mse_lower"])


def test_the_evaluation_chain_is_calibrated():
    """Known answers through the code of the real tables: a synthetic PET that is its own target is
    perfect and specific; one that is another participant's target, or the population mean, is not
    specific, and the population mean has no skill over the population-mean baseline."""
    scans, truth = calibration_cohort()
    targets = {"pet": truth}
    # synthetic := its own target
    own = metrics.compare(truth[0], truth[0], 0.05)
    assert own["mse"] == 0 and own["normdiff"] == 0 and own["mae"] == 0 and own["psnr"] == np.inf
    assert specificity_p(scans, truth, truth) < 0.01
    # synthetic := the next participant's target: its own is no closer than the others'
    shifted = np.roll(truth, 1, axis=0)
    assert specificity_p(scans, shifted, truth) > 0.5
    # synthetic := the population mean of the other folds (the baseline itself)
    baseline = statistics.population_mean_baseline(scans, targets, 0.05)
    means = np.stack([truth[scans["fold"] != f].mean(axis=0) for f in scans["fold"]])
    assert specificity_p(scans, means, truth) > 0.05
    mse_model = [metrics.mse(means[i], truth[i]) for i in range(len(scans))]
    assert statistics.skill(mse_model, baseline["mse_popmean_vs_pet"]) == pytest.approx(0.0, abs=1e-12)


def test_skill_interval_resamples_participants_not_scans():
    """Repeating every participant's scans adds no information: the interval must not narrow (a scan
    bootstrap would narrow it by about 1/sqrt(2)); it holds the point estimate; a model better on
    every participant has an interval above 0."""
    rng = np.random.default_rng(3)
    subjects = np.array([f"p{i}" for i in range(12)])
    baseline = rng.uniform(0.01, 0.02, 12)
    model = baseline * rng.uniform(0.6, 1.3, 12)
    low, high = statistics.skill_interval(subjects, model, baseline)
    assert low < statistics.skill(model, baseline) < high
    twice = statistics.skill_interval(np.repeat(subjects, 2), np.repeat(model, 2), np.repeat(baseline, 2))
    assert twice == pytest.approx((low, high), abs=1e-12)
    better = statistics.skill_interval(subjects, baseline * rng.uniform(0.5, 0.9, 12), baseline)
    assert better[0] > 0
    assert np.isnan(statistics.skill_interval(["p0", "p0"], model[:2], baseline[:2])[0])
    # a scan without a baseline value counts in neither the skill nor its interval
    gap_subjects, gap_model = np.append(subjects, "p12"), np.append(model, 0.5)
    gap_baseline = np.append(baseline, np.nan)
    assert statistics.skill(gap_model, gap_baseline) == pytest.approx(statistics.skill(model, baseline))
    assert statistics.skill_interval(gap_subjects, gap_model, gap_baseline) == pytest.approx((low, high))


def test_peer_metrics_match_hand_computations():
    r = np.array([0.2, 0.5, 0.0, 0.9])
    t = np.array([0.1, 0.5, 0.0, 0.6])
    assert metrics.mae(r, t) == pytest.approx((0.1 + 0 + 0 + 0.3) / 4)
    assert metrics.psnr(r, t) == pytest.approx(10 * np.log10(1 / ((0.01 + 0.09) / 4)))
    # SSIM of two constant volumes, away from the edge: luminance term only, (2ab + C1) / (a^2 + b^2 + C1)
    shape = (21, 21, 21)
    inner = np.zeros(shape, bool)
    inner[8:13, 8:13, 8:13] = True
    a, b, c1 = 0.6, 0.3, 0.01**2
    assert metrics.ssim(np.full(shape, a), np.full(shape, b), inner) == pytest.approx(
        (2 * a * b + c1) / (a * a + b * b + c1)
    )
    # at one voxel, against the definition with explicit Gaussian weights (sigma 1.5, radius 5)
    rng = np.random.default_rng(0)
    x, y = rng.random(shape), rng.random(shape)
    offsets = np.arange(-5, 6)
    g = np.exp(-(offsets**2) / (2 * 1.5**2))
    w = g[:, None, None] * g[None, :, None] * g[None, None, :]
    w /= w.sum()
    px, py = x[5:16, 5:16, 5:16], y[5:16, 5:16, 5:16]
    mx, my = (w * px).sum(), (w * py).sum()
    vx, vy, cxy = (w * px * px).sum() - mx**2, (w * py * py).sum() - my**2, (w * px * py).sum() - mx * my
    c2 = 0.03**2
    by_hand = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    centre = np.zeros(shape, bool)
    centre[10, 10, 10] = True
    assert metrics.ssim(x, y, centre) == pytest.approx(by_hand, rel=1e-9)
    assert metrics.ssim(x, x, inner) == pytest.approx(1.0)
    assert metrics.ssim(x, y, inner) < 0.2  # independent noise: little structure in common


def test_regional_agreement_matches_hand_computations():
    """ICC(A,1) from the two-way ANOVA mean squares (McGraw and Wong 1996), Bland-Altman by hand,
    over participants (repeated scans averaged)."""
    regions = regions_table(np.random.default_rng(5))
    table = statistics.regional_agreement(regions, ["Brain-Stem"]).iloc[0]
    part = regions[regions["region"] == "Brain-Stem"].groupby("subject")[["synthetic", "pet_smoothed"]].mean()
    ratings = part.to_numpy()  # (n participants, k = 2 raters)
    n, k = ratings.shape
    grand = ratings.mean()
    ms_rows = k * ((ratings.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    ms_cols = n * ((ratings.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    residual = ratings - ratings.mean(axis=1, keepdims=True) - ratings.mean(axis=0, keepdims=True) + grand
    ms_error = (residual**2).sum() / ((n - 1) * (k - 1))
    icc = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
    assert table["participants"] == 10 and table["icc"] == pytest.approx(icc, rel=1e-9)
    difference = part["synthetic"] - part["pet_smoothed"]
    assert table["bias"] == pytest.approx(difference.mean())
    assert table["limit_high"] == pytest.approx(difference.mean() + 1.96 * difference.std(ddof=1))
    assert table["r"] == pytest.approx(stats.pearsonr(part["synthetic"], part["pet_smoothed"]).statistic)


def test_regional_baseline_and_skill_are_calibrated():
    """The regional population mean is the mean of the other folds' scans; a synthetic PET that is its
    target has skill 1 over it, one that is the baseline itself has skill 0."""
    regions = regions_table(np.random.default_rng(7))
    regions["fold"] = regions["subject"].astype(int) % 3  # participant-grouped folds
    regions["popmean"] = statistics.regional_population_mean(regions)
    thalamus = regions[regions["region"] == "Left_Thalamus"]
    by_hand = thalamus.loc[thalamus["fold"] != 0, "pet"].mean()
    assert np.allclose(thalamus.loc[thalamus["fold"] == 0, "popmean"], by_hand)
    for synthetic, skill, bias in (("pet_smoothed", 1.0, 0.0), ("popmean", 0.0, None)):
        table = statistics.regional_agreement(regions.assign(synthetic=regions[synthetic]), ["Brain-Stem"])
        model = table[table["prediction"] == "synthetic"].iloc[0]
        assert model["skill_vs_popmean"] == pytest.approx(skill, abs=1e-12), synthetic
        if bias is not None:
            assert model["bias"] == pytest.approx(bias, abs=1e-12) and model["r"] == pytest.approx(1.0)
    table2 = statistics.table2_regional(regions)
    assert table2.loc[table2["region"] == "Left_Thalamus", "popmean_mean"].item() == pytest.approx(
        thalamus["popmean"].mean()
    )


def test_harvard_oxford_has_the_papers_21_regions_lateralized():
    regions = atlas.harvard_oxford(2)
    assert set(atlas.PAPER_SUBCORTICAL) <= set(regions.names) and len(atlas.PAPER_SUBCORTICAL) == 21
    from synthpet.evaluate.mni import template

    t1, brain = template(2)
    x = (t1.affine @ np.vstack([np.indices(t1.shape).reshape(3, -1), np.ones((1, brain.size))]))[0].reshape(t1.shape)
    for name in atlas.PAPER_SUBCORTICAL:
        mask = regions.masks[regions.names.index(name)]
        assert mask.sum() > 20, name
        if name.startswith("Left"):
            assert np.median(x[mask]) < 0, name
        if name.startswith("Right"):
            assert np.median(x[mask]) > 0, name
    means = regions.means(np.ones(brain.shape))
    assert np.allclose(means[np.isfinite(means)], 1.0)


def test_atlas_round_trips_and_a_user_atlas_is_checked(tmp_path):
    small = atlas.Atlas(("a", "b"), np.random.default_rng(0).random((2, 5, 6, 7)) > 0.5)
    small.save(tmp_path / "atlas.npz")
    loaded = atlas.Atlas.load(tmp_path / "atlas.npz")
    assert loaded.names == small.names and np.array_equal(loaded.masks, small.masks)

    from synthpet.evaluate.mni import template

    t1, brain = template(2)
    labels = np.zeros(brain.shape, np.int16)
    labels[40:50, 50:60, 40:50] = 3
    image = tmp_path / "labels.nii.gz"
    nib.save(nib.Nifti1Image(labels, t1.affine), image)
    table = tmp_path / "labels.tsv"
    table.write_text("index\tname\n3\tcube\n4\tnowhere\n")
    with pytest.raises(ConfigError, match="nowhere"):
        atlas.build({"image": str(image), "labels": str(table)}, 2)
    table.write_text("index\tname\n3\tcube\n")
    user = atlas.build({"image": str(image), "labels": str(table)}, 2)
    assert user.names == ("cube",) and user.masks[0].sum() == 1000
    with pytest.raises(ConfigError, match="missing.tsv"):
        atlas.build({"image": str(image), "labels": str(tmp_path / "missing.tsv")}, 2)


@pytest.mark.parametrize("scale", [PetScale("minmax", 2.5), PetScale("mean", 2.0)])
def test_noisefree_truth_takes_the_measured_pets_scale_and_genotype_correction(tmp_path, scale):
    from synthpet.preprocess.normalize import scale_pet
    from synthpet.preprocess.steps import pet_to_grid

    rng = np.random.default_rng(1)
    t1_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    pet = write_nifti(tmp_path / "pet.nii.gz", data=rng.uniform(1, 3, (20, 20, 20)), affine=t1_affine)
    grid_affine = np.diag([4.0, 4.0, 4.0, 1.0])
    grid_affine[:3, 3] = 4.0
    mask = np.zeros((8, 8, 8), np.uint8)
    mask[1:7, 1:7, 1:7] = 1
    mask_path = write_nifti(tmp_path / "mask.nii.gz", data=mask, affine=grid_affine, dtype=np.uint8)
    model = GenotypeModel(("MAB",), np.full((1, 512), 0.06), np.full((1, 512), 0.5), np.array([0.04]), np.array([0.5]))
    model.save(tmp_path / "geno.npz")
    # the noise-free PET equal to the measured one gives the measured normalized, corrected PET
    clean = noisefree_on_grid(str(pet), str(pet), str(mask_path), str(tmp_path / "geno.npz"), "MAB", scale)
    on_grid = pet_to_grid(nib.load(pet), grid_affine, (8, 8, 8))
    normalized = scale_pet(on_grid, mask.astype(bool), scale.pet_scale, scale.pet_suvr_max)
    expected = (normalized - 0.05) * mask
    assert np.allclose(np.asarray(clean.dataobj), expected, atol=1e-5)
    # a noise-free PET at half the measured one: half the target on the mean scale (no offset);
    # on the min-max scale, the measured PET's offset is subtracted first
    half = write_nifti(tmp_path / "half.nii.gz", data=np.asarray(nib.load(pet).dataobj) / 2, affine=t1_affine)
    halved = np.asarray(
        noisefree_on_grid(str(half), str(pet), str(mask_path), str(tmp_path / "geno.npz"), "MAB", scale).dataobj
    )
    if scale.pet_scale == "mean":
        assert np.allclose(halved, (normalized / 2 - 0.05) * mask, atol=1e-5)
    else:
        assert not np.allclose(halved, (normalized / 2 - 0.05) * mask, atol=1e-3)


def test_mni_outputs_share_the_atlas_space():
    """The MNI template is nimare's MNI152NLin6Asym (FSL's MNI152), the space Harvard-Oxford is defined in:
    the atlas grid is a crop of the template's own grid (every atlas voxel centre is a template voxel
    centre, so labels are taken without interpolation), and its labels lie inside the template's brain."""
    from synthpet.evaluate.mni import SPACE, template
    from synthpet.io.templates import harvard_oxford_dir, harvard_oxford_maxprob
    from synthpet.preprocess.brain_extraction import head_template as brain_extraction_template

    assert SPACE == "MNI152NLin6Asym"
    t1, brain = template(1)
    atlas_affine = nib.load(harvard_oxford_dir() / "atlas_harvard_oxford.nii.gz").affine
    atlas_in_template_voxels = np.linalg.inv(t1.affine) @ atlas_affine
    assert np.allclose(atlas_in_template_voxels, np.round(atlas_in_template_voxels), atol=1e-6)
    labels = harvard_oxford_maxprob(t1.affine, t1.shape) > 0
    assert (labels & brain).sum() / labels.sum() > 0.98
    head = nib.load(brain_extraction_template(1)[0])  # the brain-extraction template: the same file
    assert np.allclose(head.affine, t1.affine) and np.allclose(head.get_fdata()[brain], t1.get_fdata()[brain])


def test_atlas_labels_are_each_voxels_most_probable_region():
    """The max-probability labels, computed one volume at a time, are np.argmax's over the volumes (ties
    to the first volume, as argmax gives them), in a NIfTI's volume-major order, and 0 under the threshold."""
    from synthpet.io.templates import max_probability_labels

    rng = np.random.default_rng(3)
    probabilities = np.asfortranarray(rng.integers(0, 6, size=(5, 4, 3, 7), dtype=np.uint8) * 10)
    probabilities[0, 0, 0] = 0  # nothing anywhere: argmax says the first volume, the threshold says none
    expected = probabilities.argmax(axis=3).astype(np.int16) + 1
    expected[probabilities.max(axis=3) < 25] = 0
    labels = max_probability_labels(probabilities, 25)
    assert (probabilities.max(axis=3) == 50).sum() > 20  # ties between volumes are common here
    assert labels.dtype == np.int16 and (labels == expected).all() and labels[0, 0, 0] == 0
    assert (max_probability_labels(probabilities, 0) == probabilities.argmax(axis=3) + 1).all()


def test_each_scan_is_scored_inside_its_own_brain():
    """Voxels outside a scan's own brain mask (NaN) are left out of its metrics and regional means: a
    baseline that is nonzero there is not penalized where the scan's true and synthetic PET are both zero."""
    from synthpet.evaluate.atlas import Atlas
    from synthpet.evaluate.statistics import population_mean_baseline

    truth = np.array([0.2, 0.4, 0.6, 0.8])
    assert metrics.compare(np.array([0.3, 0.4, 0.6, np.nan]), np.array([0.2, 0.4, np.nan, 0.8]), 0.05)[
        "mse"
    ] == pytest.approx(0.01 / 2)
    pet = np.stack([truth, truth, truth + 0.1, truth + 0.1])
    pet[0, 3] = np.nan  # scan 0's brain misses the last voxel
    baseline = population_mean_baseline(pd.DataFrame({"fold": ["0", "0", "1", "1"]}), {"pet": pet}, 0.05)
    assert baseline.loc[0, "mse_popmean_vs_pet"] == pytest.approx(0.01)  # three voxels, each 0.1 off
    atlas = Atlas(("a",), np.ones((1, 2, 2, 1), bool))
    assert atlas.means(np.array([1.0, 3.0, np.nan, np.nan]).reshape(2, 2, 1))[0] == pytest.approx(2.0)


def test_regional_means_match_a_region_by_region_mean():
    """Overlapping regions (the derived cortex holds the cortical labels), NaNs left out, a region with
    no voxel and one whose voxels are all NaN: each region's mean is that of its own finite voxels."""
    from synthpet.evaluate.atlas import Atlas

    rng = np.random.default_rng(0)
    masks = rng.random((5, 6, 7, 4)) < 0.3
    masks[1] |= masks[0]  # overlaps region 0
    masks[2] = False  # no voxel
    masks[3] = False
    masks[3, 0, 0, :2] = True
    volume = rng.normal(size=(6, 7, 4))
    volume[0, 0, :2] = np.nan  # region 3's only voxels
    volume[rng.random(volume.shape) < 0.1] = np.nan
    means = Atlas(tuple("abcde"), masks).means(volume)
    for index in (0, 1, 4):
        values = volume[masks[index]]
        assert means[index] == pytest.approx(values[np.isfinite(values)].mean(), rel=1e-12)
    assert np.isnan(means[2]) and np.isnan(means[3])


def test_population_mean_baseline_uses_only_the_other_folds_and_scores_like_the_model():
    """Each scan's baseline is the mean PET of the scans outside its fold (a hand computation), scored
    with the model's metrics; the skill score is 0 for a model that is the baseline and 1 for a perfect one."""
    from synthpet.evaluate.statistics import population_mean_baseline, table4_metrics

    rng = np.random.default_rng(0)
    pet = rng.uniform(0.1, 1.0, size=50) + rng.normal(0, 0.05, size=(6, 50))  # a shared pattern, scan noise
    targets = {"pet": pet, "pet_smoothed": pet * 0.9}
    scans = pd.DataFrame({"scan": [f"s{i}" for i in range(6)], "fold": ["0", "0", "1", "1", "2", "2"]})
    baseline = population_mean_baseline(scans, targets, min_target=0.05)
    expected = np.mean((pet[2:].mean(axis=0) - pet[0]) ** 2)  # scan 0 is in fold 0: scans 2-5 trained it
    assert baseline.loc[0, "mse_popmean_vs_pet"] == pytest.approx(expected, rel=1e-12)
    expected_smoothed = np.mean((pet[[0, 1, 4, 5]].mean(axis=0) - 0.9 * pet[3]) ** 2)
    assert baseline.loc[3, "mse_popmean_vs_pet_smoothed"] == pytest.approx(expected_smoothed, rel=1e-12)

    def table_for(synthetic):
        rows = scans.copy()
        for target, volumes in targets.items():
            rows[f"mse_synthetic_vs_{target}"] = [np.mean((synthetic[i] - volumes[i]) ** 2) for i in range(6)]
            for name in ("percent_mse", "normdiff", "percdiff"):
                rows[f"{name}_synthetic_vs_{target}"] = 0.0
        for image in ("pet", "pet_smoothed", "synthetic"):
            rows[f"cnr_{image}"] = 0.0
        return table4_metrics(pd.concat([rows, baseline], axis=1)).set_index("scans")

    means = np.stack([pet[scans["fold"] != f].mean(axis=0) for f in scans["fold"]])
    assert table_for(means)["skill_vs_popmean"].abs().max() < 1e-12  # the baseline itself: no skill
    assert (table_for(pet)["skill_vs_popmean"] == 1.0).all()  # its own target: perfect
    assert (table_for(np.full_like(pet, pet.mean()))["skill_vs_popmean"] < 0).all()  # a flat map: worse


def test_t1w_regression_baseline_learns_what_the_t1w_explains_and_never_sees_held_out_scans():
    """PET that is a nonlinear function of the T1w plus a shared pattern: the regression (fitted on the
    other folds) predicts held-out scans far better than the population mean; changing a fold's own
    targets leaves its predictions unchanged (scored against a fixed probe image)."""
    from synthpet.evaluate.statistics import population_mean_baseline, t1w_regression_baseline

    rng = np.random.default_rng(1)
    scans_n, voxels = 8, 3000
    t1 = rng.uniform(0, 1, (scans_n, voxels)).astype(np.float32)
    pattern = rng.uniform(0.0, 0.3, voxels)
    pet = 0.5 * np.sin(3 * t1) + pattern + rng.normal(0, 0.01, (scans_n, voxels))
    t1w = np.stack([t1, t1, t1], axis=2)  # the three scales: all the same here
    scans = pd.DataFrame({"scan": [f"s{i}" for i in range(scans_n)], "fold": [str(i % 4) for i in range(scans_n)]})
    probe = rng.uniform(0, 1, (scans_n, voxels))
    targets = {"pet": pet, "probe": probe}
    regression = t1w_regression_baseline(scans, t1w, targets, 0.05)
    popmean = population_mean_baseline(scans, targets, 0.05)
    assert (regression["mse_t1wreg_vs_pet"] < 0.2 * popmean["mse_popmean_vs_pet"]).all()
    changed = pet.copy()
    changed[scans["fold"] == "0"] = rng.uniform(0, 1, (2, voxels))  # fold 0's own targets
    again = t1w_regression_baseline(scans, t1w, {"pet": changed, "probe": probe}, 0.05)
    fold0 = (scans["fold"] == "0").to_numpy()
    np.testing.assert_allclose(again.loc[fold0, "mse_t1wreg_vs_probe"], regression.loc[fold0, "mse_t1wreg_vs_probe"])
    assert not np.allclose(again.loc[~fold0, "mse_t1wreg_vs_probe"], regression.loc[~fold0, "mse_t1wreg_vs_probe"])


def test_the_t1w_regression_runs_on_the_threads_it_is_given(monkeypatch):
    """OpenMP's default is every core; beside other busy processes its threads spin and wait (173 s
    instead of 1.3 s for the test above, beside the demo): the regressor must fit on the job's threads."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_info, threadpool_limits

    from synthpet.evaluate.statistics import t1w_regression_baseline

    seen = []
    fit = HistGradientBoostingRegressor.fit

    def recording_fit(self, *args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "openmp"})
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", recording_fit)
    rng = np.random.default_rng(0)
    t1 = rng.uniform(0, 1, (4, 200, 3))
    scans = pd.DataFrame({"scan": [f"s{i}" for i in range(4)], "fold": ["0", "0", "1", "1"]})
    with threadpool_limits(limits=2):  # what OpenMP takes on two cores, whatever this session set
        t1w_regression_baseline(scans, t1, {"pet": t1[..., 0] ** 2}, 0.05, threads=1)
    assert seen and all(threads == {1} for threads in seen), seen


def test_pattern_metrics_separate_the_pattern_from_the_scale():
    """r, the MSE after a per-scan scale and offset fit, and the scale's share of the MSE, against
    hand computations: a rescaled truth has a perfect pattern and an error that is all scale."""
    rng = np.random.default_rng(3)
    t = rng.uniform(0.1, 0.9, 400)
    rescaled = metrics.compare(0.5 * t + 0.2, t, 0.05)
    assert rescaled["r"] == pytest.approx(1.0)
    assert rescaled["mse_fitted"] == pytest.approx(0.0, abs=1e-20)
    assert rescaled["mse"] > 0.005 and rescaled["scale_share"] == pytest.approx(1.0)
    # a noisy prediction: the fit's residual is var(T) (1 - r^2), by the normal equations; r by scipy
    r = t + rng.normal(0, 0.1, t.size)
    scored = metrics.compare(r, t, 0.05)
    assert scored["r"] == pytest.approx(stats.pearsonr(r, t)[0], rel=1e-12)
    slope, intercept = np.polyfit(r, t, 1)
    assert scored["mse_fitted"] == pytest.approx(np.mean((slope * r + intercept - t) ** 2), rel=1e-9)
    assert scored["mse_fitted"] == pytest.approx(t.var() * (1 - scored["r"] ** 2), rel=1e-9)
    assert scored["scale_share"] == pytest.approx(1 - scored["mse_fitted"] / np.mean((r - t) ** 2), rel=1e-12)
    # a flat map has no pattern: no r, and the fit can do no better than T's mean
    flat = metrics.compare(np.full_like(t, 0.4), t, 0.05)
    assert np.isnan(flat["r"]) and flat["mse_fitted"] == pytest.approx(t.var())


def _anatomy_cohort(individual: bool, scans: int = 12, voxels: int = 600, seed: int = 0):
    """Targets that are each scan's anatomical part (shared, or individual) on a scale of its own
    (min-max: set by hotspots a T1w cannot see), plus noise; folds of 4 scans."""
    rng = np.random.default_rng(seed)
    shared = rng.uniform(0.5, 2.0, voxels)
    anatomy = np.stack([shared * (rng.uniform(0.6, 1.4, voxels) if individual else 1.0) for _ in range(scans)])
    scale, offset = rng.uniform(0.15, 0.45, (scans, 1)), rng.uniform(-0.1, 0.1, (scans, 1))
    pet = scale * anatomy + offset + rng.normal(0, 0.02, (scans, voxels))
    table = pd.DataFrame({"scan": [f"s{i}" for i in range(scans)], "fold": [str(i % 3) for i in range(scans)]})
    return table, anatomy, {"pet": pet, "pet_smoothed": pet}


@pytest.mark.parametrize("individual", [False, True])
def test_the_honest_ceiling_knows_only_what_the_anatomy_tells(individual):
    """The ceiling fitted on the training scans: with one anatomy for every scan it can do no better
    than the population mean (skill about 0), while the anatomical part on each scan's own scale (the
    oracle) scores far better; with individual anatomy the honest ceiling beats the mean."""
    from synthpet.evaluate.statistics import population_mean_baseline, skill
    from synthpet.validation.ceiling import HONEST_CEILING, fitted_scale_ceiling

    table, anatomy, targets = _anatomy_cohort(individual)
    ceiling = fitted_scale_ceiling(table, anatomy, targets, 0.05)
    mean = population_mean_baseline(table, targets, 0.05)
    honest = skill(ceiling[f"mse_{HONEST_CEILING}_vs_pet"], mean["mse_popmean_vs_pet"])
    oracle = [metrics.mse_fitted(a, p) for a, p in zip(anatomy, targets["pet"], strict=True)]
    oracle_skill = skill(oracle, mean["mse_popmean_vs_pet"])
    if individual:
        assert honest > 0.3, honest
    else:
        assert abs(honest) < 0.1, honest  # -0.06: the fitted weights carry the training scans' noise
        assert oracle_skill > 0.8, oracle_skill
    # a held-out scan's own truth never enters its prediction: tripling scan 0's fitted target
    # leaves its prediction, scored against an unchanged copy, as it was; another fold's moves
    changed = {key: value.copy() for key, value in targets.items()}
    changed["pet"][0] *= 3.0
    again = fitted_scale_ceiling(table, anatomy, changed, 0.05)
    column = f"mse_{HONEST_CEILING}_vs_pet_smoothed"
    assert again.loc[0, column] == pytest.approx(ceiling.loc[0, column], rel=1e-12)
    assert again.loc[1, column] != pytest.approx(ceiling.loc[1, column], rel=1e-3)


def _scored_like_the_workflow(table, anatomy, targets, model) -> pd.DataFrame:
    """The per-scan measures that evaluation_tables gathers (the model's metrics against each target,
    the population mean's) and the honest ceiling's, which the harness adds (CNR left at 0)."""
    from synthpet.evaluate.statistics import population_mean_baseline
    from synthpet.validation.ceiling import fitted_scale_ceiling

    rows = pd.DataFrame(
        [
            {
                f"{name}_synthetic_vs_{target}": value
                for target, truth in targets.items()
                for name, value in metrics.compare(model[i], truth[i], 0.05).items()
            }
            for i in range(len(table))
        ]
    )
    for image in ("pet", "pet_smoothed", "synthetic"):
        rows[f"cnr_{image}"] = 0.0
    baselines = population_mean_baseline(table, targets, 0.05), fitted_scale_ceiling(table, anatomy, targets, 0.05)
    return pd.concat([table, rows, *baselines], axis=1)


def test_table4_reads_every_predictor_on_the_pattern_as_well_as_the_raw_error():
    """A model that draws each scan's true pattern on a wrong scale: Table 4's raw skill over the
    mean is low, its skill on the pattern alone (MSE after the per-scan fit) is 1, and every
    predictor, ceilings included, has its r and scale-fitted MSE."""
    from synthpet.evaluate.statistics import table4_metrics
    from synthpet.validation.ceiling import HONEST_CEILING

    table, anatomy, targets = _anatomy_cohort(individual=True)
    table["subject"] = table["scan"]
    model = 0.3 * targets["pet"] + 0.3  # the pattern of each scan, on a scale of nobody's
    scored = _scored_like_the_workflow(table, anatomy, targets, model)
    row = table4_metrics(scored, [HONEST_CEILING]).set_index("scans").loc["all"]
    assert row["skill_fitted_vs_popmean"] == pytest.approx(1.0)
    assert row["skill_vs_popmean"] < 0.9
    assert row["skill_fitted_vs_popmean_low"] == pytest.approx(1.0)
    for column in ("r", "mse_fitted", "r_popmean", "mse_fitted_popmean", "r_ceiling", "mse_fitted_ceiling"):
        assert column in row and column + "_smoothed" in row, column
    assert row["r"].startswith("1.0")  # "mean (sd)" text
    assert 0 < row["skill_of_ceiling_vs_popmean"] < 1


def test_the_headline_table_agrees_with_table4_and_names_each_predictor():
    """The headline reads the same per-scan measures as Table 4: the model's skill over the mean (and
    on the pattern) is Table 4's, with the same interval; each predictor has a row per scope."""
    from synthpet.evaluate.statistics import headline_table, table4_metrics
    from synthpet.validation.ceiling import HEADLINE_WITH_CEILING, HONEST_CEILING

    table, anatomy, targets = _anatomy_cohort(individual=True)
    table["subject"] = [f"p{i // 2}" for i in range(len(table))]  # two scans per participant
    model = 0.3 * targets["pet"] + 0.3 + np.random.default_rng(1).normal(0, 0.02, targets["pet"].shape)
    scored = _scored_like_the_workflow(table, anatomy, targets, model)
    table4 = table4_metrics(scored, [HONEST_CEILING]).set_index("scans")
    headline = headline_table(scored, predictors=HEADLINE_WITH_CEILING)
    assert list(headline["scans"].unique()) == ["all", "fold 0", "fold 1", "fold 2"]
    assert set(headline["predictor"]) == {
        "model (synthetic PET)",
        "population mean",
        "ceiling: perfect T1w-only predictor",
    }
    by = headline.set_index(["scans", "predictor"])
    for scope in ("all", "fold 1"):
        model_row = by.loc[(scope, "model (synthetic PET)")]
        expected = (
            f"{table4.loc[scope, 'skill_vs_popmean']:.3f} ({table4.loc[scope, 'skill_vs_popmean_low']:.3f} to "
            f"{table4.loc[scope, 'skill_vs_popmean_high']:.3f})"
        )
        assert model_row["skill_vs_popmean"] == expected
        assert model_row["skill_on_pattern_vs_popmean"].startswith(
            f"{table4.loc[scope, 'skill_fitted_vs_popmean']:.3f}"
        )
        assert model_row["n"] == table4.loc[scope, "n"]
        assert by.loc[(scope, "population mean"), "skill_vs_popmean"] == "(the baseline)"
    ceiling = by.loc[("all", "ceiling: perfect T1w-only predictor")]
    assert ceiling["skill_vs_popmean"].startswith(f"{table4.loc['all', 'skill_of_ceiling_vs_popmean']:.3f}")
