"""The synthetic cohort's ground truth against the workflow: its noise-free PET and anatomical part
carried to MNI space on each scan's scale, the preprocessing's accuracy, whether the model filters
noise, and whether planted effects survive. Used only when the input is the phantom.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.evaluate.statistics import TABLE4_METRICS, mean_sd, per_participant, pvalue
from synthpet.io.imageio import save_nifti, to_canonical
from synthpet.preprocess import brain_extraction, registration
from synthpet.preprocess.geometry import mask_points
from synthpet.preprocess.settings import PAPER_TARGET, PetScale
from synthpet.validation.ceiling import HONEST_CEILING

TRUTH = "noisefree"  # the noise-free PET, on the scale of the scan's measured PET
ANATOMICAL = "anatomical"  # its part that the anatomy explains: a T1w-only predictor's ceiling
PHANTOM_IMAGES = (TRUTH, ANATOMICAL)
# the anatomical part in SUV, from which the honest ceiling is fitted (ceiling.fitted_scale_ceiling)
ANATOMICAL_SUV = "anatomical_suv"
# what the harness scores in each scan, beside what the method's measures score (the synthetic PET
# against the measured): everything against the truth (the measured PET as a predictor of it too),
# and the anatomical part against the measured PET, as the model is
COMPARISONS = {
    "pet": (ANATOMICAL,),
    "pet_smoothed": (ANATOMICAL,),
    TRUTH: ("synthetic", "pet", "pet_smoothed", ANATOMICAL),
}


def noisefree_on_grid(
    noisefree_t1: str, pet_t1: str, grid_mask: str, genotype_model: str, genotype: str, scale: PetScale = PAPER_TARGET
):
    """The phantom's noise-free PET on the model grid, on the scale of the scan's normalized, corrected PET.

    The measured PET was scaled on the grid (``scale``: preprocess.pet_scale and pet_suvr_max); the
    same map (from the measured PET's values) and the fold's genotype correction are applied to the
    noise-free PET.
    """
    from synthpet.learn.genotype import GenotypeModel

    clean = noisefree_scaled(noisefree_t1, pet_t1, grid_mask, scale)
    brain = np.asarray(nib.load(grid_mask).dataobj) > 0
    data = np.asarray(clean.dataobj, np.float32)
    corrected = GenotypeModel.load(genotype_model).correct(data.reshape(1, -1), [genotype])[0]
    return nib.Nifti1Image(corrected.reshape(data.shape) * brain, clean.affine)


def noisefree_scaled(
    noisefree_t1: str | nib.Nifti1Image, pet_t1: str | nib.Nifti1Image, grid_mask: str, scale: PetScale = PAPER_TARGET
) -> nib.Nifti1Image:
    """The noise-free PET on the model grid, scaled by the map that scaled the measured PET."""
    from synthpet.preprocess.normalize import apply_pet_scaling
    from synthpet.preprocess.steps import pet_to_grid

    mask_img = nib.load(grid_mask)
    brain = np.asarray(mask_img.dataobj) > 0
    shape, affine = mask_img.shape, mask_img.affine
    measured = pet_to_grid(pet_t1 if isinstance(pet_t1, nib.Nifti1Image) else nib.load(pet_t1), affine, shape)[brain]
    noisefree = nib.load(noisefree_t1) if not isinstance(noisefree_t1, nib.Nifti1Image) else noisefree_t1
    clean = np.zeros(shape, np.float32)
    clean[brain] = apply_pet_scaling(pet_to_grid(noisefree, affine, shape)[brain], scale.scaling(measured))
    return nib.Nifti1Image(clean, affine)


def warp_noisefree(inputs: dict, outputs: dict, voxel_mm: int, genotype: str, scale: PetScale = PAPER_TARGET) -> None:
    """The synthetic cohort's noise-free PET of a scan and its anatomical part, each on the scan's
    normalized scale (the measured PET's map, ``scale``, and genotype correction), in MNI space; and the
    anatomical part in SUV (``ANATOMICAL_SUV``), on no scan's own scale, for the honest ceiling."""
    from synthpet.evaluate import mni
    from synthpet.preprocess.steps import pet_to_grid

    for key in PHANTOM_IMAGES:
        clean = noisefree_on_grid(
            inputs[key], inputs["pet_t1"], inputs["mask"], inputs["genotype_model"], genotype, scale
        )
        img = mni.to_mni(clean, inputs["warp"], inputs["affine"], voxel_mm)
        save_nifti(np.asarray(img.dataobj), img.affine, outputs[key])
    grid = nib.load(inputs["mask"])
    brain = np.asarray(grid.dataobj) > 0
    suv = pet_to_grid(nib.load(inputs[ANATOMICAL]), grid.affine, grid.shape) * brain
    img = mni.to_mni(nib.Nifti1Image(suv.astype(np.float32), grid.affine), inputs["warp"], inputs["affine"], voxel_mm)
    save_nifti(np.asarray(img.dataobj), img.affine, outputs[ANATOMICAL_SUV])


def warp_noisefree_all(
    inputs: dict[str, list],
    outputs: dict[str, list],
    voxel_mm: int,
    genotypes: list[str],
    scale: PetScale = PAPER_TARGET,
) -> None:
    """``warp_noisefree`` for every scan: ``inputs`` and ``outputs`` hold a list per key, one entry per
    scan, in the order of ``genotypes``."""
    for i, genotype in enumerate(genotypes):
        warp_noisefree(
            {key: paths[i] for key, paths in inputs.items()},
            {key: paths[i] for key, paths in outputs.items()},
            voxel_mm,
            genotype,
            scale,
        )


def ground_truth_table(scans: pd.DataFrame) -> pd.DataFrame:
    """Synthetic cohort only: error against the noise-free PET of the synthetic, measured and smoothed PET
    (and of the truth's anatomical part: what a perfect T1w-only predictor would make).

    Tests the paper's claim that the model filters noise: a paired one-sided Wilcoxon test that the
    synthetic PET is closer to the noise-free truth than the measured (and the smoothed) PET, over
    participants (repeated scans averaged).
    """
    import pingouin as pg

    images = ["synthetic", "pet", "pet_smoothed"] + ([ANATOMICAL] if f"mse_{ANATOMICAL}_vs_{TRUTH}" in scans else [])
    errors = [f"mse_{image}_vs_{TRUTH}" for image in images]
    participants = per_participant(scans, errors)
    rows = []
    for image in images:
        row = {"image": image, "n": len(scans), "participants": len(participants)}
        for name in TABLE4_METRICS:
            row[name] = mean_sd(scans[f"{name}_{image}_vs_{TRUTH}"])
        if image != "synthetic" and len(participants) >= 2:
            row["p_synthetic_mse_lower"] = pvalue(
                pg.wilcoxon(participants[errors[0]], participants[f"mse_{image}_vs_{TRUTH}"], alternative="less")
            )
        rows.append(row)
    return pd.DataFrame(rows)


def planted_effects(regions: pd.DataFrame, group_effects: dict, control: str, hab_over_mab: float) -> pd.DataFrame:
    """Synthetic cohort only: does each planted group effect survive in the synthetic PET?

    Per effect: the ratio of the group's to the controls' mean over the effect's regions, in the
    noise-free, measured and synthetic PET, with a Mann-Whitney U p-value (group vs controls). Each
    scan's regional values are divided by its mean over all regions first (an SUVR): per-scan min-max
    normalization moves every voxel when the effect raises the maximum, a ratio to the scan's own
    brain does not depend on the scale. Tests are over participants (repeated scans averaged).
    """
    import pingouin as pg

    images = [TRUTH, "pet", "synthetic"]
    relative = regions.copy()
    relative[images] = regions[images] / regions.groupby("scan")[images].transform("mean")
    rows = []
    for group, effect in group_effects.items():
        part = relative[relative["region"].isin(effect["regions"])]
        per_scan = part.groupby(["scan", "subject", "group"], as_index=False)[images].mean()
        participants = per_participant(per_scan, images)
        cases, controls = participants[participants["group"] == group], participants[participants["group"] == control]
        row = {"group": group, "regions": " ".join(effect["regions"]), "planted_factor": effect["factor"]}
        for image in images:
            row[f"ratio_{image}"] = cases[image].mean() / controls[image].mean()
            row[f"p_{image}"] = (
                pvalue(pg.mwu(cases[image], controls[image])) if len(cases) >= 2 and len(controls) >= 2 else np.nan
            )
        rows.append(row)
    # the genotype effect is removed by the genotype regression before training: MAB/HAB of the
    # brain mean, planted 1/hab_over_mab where the regional pattern is 1 (SUV; less after min-max scaling)
    brain = per_participant(regions.groupby(["scan", "subject", "genotype"], as_index=False)[images].mean(), images)
    mab, hab = brain[brain["genotype"] == "MAB"], brain[brain["genotype"] == "HAB"]
    if len(mab) and len(hab):
        row = {"group": "genotype MAB/HAB", "regions": "all", "planted_factor": 1.0 / hab_over_mab}
        for image in images:
            row[f"ratio_{image}"] = mab[image].mean() / hab[image].mean()
            row[f"p_{image}"] = pvalue(pg.mwu(mab[image], hab[image])) if len(mab) >= 2 and len(hab) >= 2 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def accuracy_against_truth(scans: list[str], matrices, masks, truths, truth_masks) -> pd.DataFrame:
    """Per scan: coregistration error (mm) over the true brain, and the brain mask's Dice.

    Only for the synthetic cohort, whose ground truth holds the true transform and brain mask.
    """
    import json

    rows = []
    for scan, matrix, mask, truth, truth_mask in zip(scans, matrices, masks, truths, truth_masks, strict=True):
        true_img = nib.load(truth_mask)
        brain = np.asarray(true_img.dataobj) > 0
        points = mask_points(true_img)
        true_matrix = np.array(json.loads(Path(truth).read_text())["t1w_to_pet_world"])
        error = registration.displacement_mm(registration.load_matrix(matrix), true_matrix, points)
        estimate = np.asarray(nib.load(mask).dataobj) > 0
        # the truth lies on the stored T1w's grid (any axis order); the estimate on the ingested, RAS one
        brain, _ = to_canonical(brain, true_img)
        rows.append(
            {
                "scan": scan,
                "coreg_mean_error_mm": round(float(error.mean()), 4),
                "coreg_max_error_mm": round(float(error.max()), 4),
                "mask_dice": round(brain_extraction.dice(estimate, brain), 4),
            }
        )
    return pd.DataFrame(rows)


def scan_truth_measures(
    images: dict[str, str], scan_mask: str, voxel_mm: int, atlas, settings: dict, seed: int
) -> tuple[dict, pd.DataFrame]:
    """One scan scored against its truth, as the method's per-scan measures score it against its
    measured PET (evaluate.measures.scan_measures, the same region and box pairs): ``COMPARISONS``,
    and the CNR and regional means of the truth's images (``PHANTOM_IMAGES`` and ``ANATOMICAL_SUV``).
    No SSIM: no table of the harness reads it, and it took two thirds of the time."""
    from synthpet.evaluate.measures import scan_measures

    truth = [key for key in (*PHANTOM_IMAGES, ANATOMICAL_SUV) if key in images]
    return scan_measures(images, scan_mask, voxel_mm, atlas, settings, seed, COMPARISONS, truth, with_ssim=False)


# the Table 4 ceilings: the honest one (fitted on the training scans) and the anatomical part on each
# scan's own range (an oracle's: no T1w-only predictor knows that range)
TABLE4_CEILINGS = (HONEST_CEILING, ANATOMICAL)


def write_truth_tables(
    inputs: dict,
    outputs: dict,
    *,
    voxel_mm: int,
    settings: dict,
    seed: int,
    group_effects: dict,
    control: str,
    hab_over_mab: float,
) -> None:
    """The method's per-scan measures and regional means (its outputs) joined with each scan's
    measures against the truth (``scan_truth_measures``, with the method's measure ``settings`` and
    ``seed``), and the honest ceiling fitted and scored beside the model and the baselines; then
    Table 4 and the headline with the ceilings, the errors against the noise-free PET, and whether the
    planted effects survive.

    ``inputs``: the method's ``scan_metrics`` and ``regions`` tables; per scan, in their order, its
    MNI images (``synthetic``, ``pet``, ``pet_smoothed``, ``mask``) and the truth's (``PHANTOM_IMAGES``,
    ``ANATOMICAL_SUV``); the ``atlas``.
    """
    from synthpet.evaluate.atlas import Atlas
    from synthpet.evaluate.mni import template
    from synthpet.evaluate.statistics import brain_vectors, headline_table, own_brains, table4_metrics, write_tsv
    from synthpet.validation.ceiling import HEADLINE_WITH_CEILING, fitted_scale_ceiling

    cohort_columns = {"scan": str, "subject": str, "session": str}
    scans = pd.read_csv(inputs["scan_metrics"], sep="\t", dtype=cohort_columns)
    images = ("synthetic", "pet", "pet_smoothed", *PHANTOM_IMAGES, ANATOMICAL_SUV)
    if any(len(inputs[key]) != len(scans) for key in (*images, "mask")):
        raise ValueError(f"the truth's images are not one per scan of {inputs['scan_metrics']} ({len(scans)} scans)")
    atlas = Atlas.load(inputs["atlas"])
    measured, truth_regions = [], []
    for i, scan in enumerate(scans["scan"]):
        row, regions = scan_truth_measures(
            {key: inputs[key][i] for key in images}, inputs["mask"][i], voxel_mm, atlas, settings, seed
        )
        measured.append(row)
        truth_regions.append(regions.assign(scan=scan))
    _, brain = template(voxel_mm)
    own = own_brains(inputs["mask"], brain)  # each scan scored inside its own brain, as the method's tables
    targets = {key: brain_vectors(inputs[key], brain, own) for key in ("pet", "pet_smoothed")}
    anatomy = brain_vectors(inputs[ANATOMICAL_SUV], brain, own)
    min_target = settings["percdiff_min_target"]
    ceiling = fitted_scale_ceiling(scans, anatomy, targets, min_target)
    measured = pd.DataFrame(measured)
    if overlap := set(scans.columns) & (set(measured.columns) | set(ceiling.columns)):
        raise ValueError(f"the truth's measures would replace the method's {sorted(overlap)}")
    scans = pd.concat([scans, measured, ceiling], axis=1)
    write_tsv(scans, outputs["scan_metrics"])
    write_tsv(table4_metrics(scans, TABLE4_CEILINGS), outputs["table4"])
    write_tsv(headline_table(scans, predictors=HEADLINE_WITH_CEILING), outputs["headline"])
    write_tsv(ground_truth_table(scans), outputs["errors"])
    regions = pd.read_csv(inputs["regions"], sep="\t", dtype=cohort_columns)
    regions = regions.merge(pd.concat(truth_regions), on=["scan", "region"], how="left", validate="one_to_one")
    write_tsv(planted_effects(regions, group_effects, control, hab_over_mab), outputs["effects"])
