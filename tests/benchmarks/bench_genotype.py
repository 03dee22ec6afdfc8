"""Benchmark: how much of the HAB-MAB difference the genotype regression removes, per fold and scope.

    python tests/benchmarks/bench_genotype.py RESULTS_DIR

RESULTS_DIR is a workflow output directory that holds the folds (``cohort/folds.tsv``) and every
scan's normalized PET and brain mask on the model grid (``preproc/``), e.g. after

    snakemake --configfile config/config.yaml tests/benchmarks/genotype_cohort.yaml --cores 2 \\
        --until genotype_correction

For every fold, in the same run, it fits every candidate:

- ``brain`` (``genotype.method: brain``, the default): one coefficient per genotype for the whole brain;
- ``voxelwise`` (``genotype.method: voxelwise``): each voxel on the scans whose brain mask covers it,
  then the brain-level term;
- ``voxel term``: that voxelwise term alone;
- ``voxel smoothed``: the voxel term smoothed inside the brain (Gaussian, sigma one grid voxel), a
  way to keep regional detail with less of the training scans' noise;
- ``every voxel``: the baseline, every voxel fitted on every scan, zeros outside a brain included
  (one design for the whole grid, as ``fsl_glm`` over a merged 4D image would);

with scope ``fold`` (fitted on the training scans) and ``cohort`` (fitted on all scans, as the paper
did). It prints the HAB-minus-MAB difference of mean brain PET before and after, on the fitted scans
and on the fold's held-out scans, and the medians over folds of |after| / |before|. (On fitted scans
``brain`` and ``voxelwise`` leave 0 by construction: their last term is a least-squares fit of that
statistic.)

    python tests/benchmarks/bench_genotype.py RESULTS_DIR --truth --config config/config.yaml [FILE ...]

With ``--truth`` (a synthetic cohort; the config files it ran with), every method is also judged
against the truth on held-out scans: each held-out scan's noise-free PET is rendered as HAB and as
MAB (every other draw the same), both are put on the scan's model grid and scaled as its measured
PET was, and their difference is the scan's true HAB-minus-MAB effect map. The estimated map is the
fold model's HAB-minus-MAB effect for that scan. Printed per candidate (scope ``fold``, fitted on the
training scans only), median and worst over held-out scans: the map error ||est - true||^2 /
||true||^2 inside the scan's grid brain (0 is perfect, 1 is no better than no correction), and the
error in the mean brain effect |mean(est - true)| / |mean(true)|.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from nibabel.processing import resample_from_to

from synthpet.io.paths import bids_path
from synthpet.learn import genotype


def load(results: Path):
    folds = pd.read_csv(results / "cohort" / "folds.tsv", sep="\t", dtype=str, keep_default_na=False)
    folds["fold"] = folds["fold"].astype(int)
    pet, masks = [], []
    for scan in folds.itertuples():
        session = scan.session or None
        pet_path = bids_path(results / "preproc", "pet", "pet", scan.subject, session, space="grid", desc="norm")
        mask_path = bids_path(results / "preproc", "anat", "mask", scan.subject, session, space="grid", desc="brain")
        pet.append(np.asarray(nib.load(pet_path).dataobj, np.float32).ravel())
        masks.append(np.asarray(nib.load(mask_path).dataobj).ravel() > 0)
    return folds, np.stack(pet), np.stack(masks), nib.load(mask_path).shape


CANDIDATES = ("brain", "voxelwise", "voxel term", "voxel smoothed", "every voxel")


def fit_candidate(candidate: str, pet, masks, genotypes, grid_shape):
    """The fitted model's effect: a function of a list of genotypes -> (scans, voxels)."""
    if candidate == "brain":
        return genotype.fit(pet, masks, genotypes, method="brain").effect
    fit_masks = np.ones_like(masks) if candidate == "every voxel" else masks
    model = genotype.fit(pet, fit_masks, genotypes, method="voxelwise")
    if candidate == "voxelwise":
        return model.effect
    if candidate != "voxel smoothed":
        return model.voxel_effect
    from scipy import ndimage

    # normalized convolution inside the voxels any fitted brain covers, so the edge is not pulled to 0
    inside = masks.any(axis=0).reshape(grid_shape).astype(np.float64)
    weight = ndimage.gaussian_filter(inside, 1.0)
    smoothed = np.stack(
        [
            (ndimage.gaussian_filter(row.reshape(grid_shape) * inside, 1.0) / np.maximum(weight, 1e-6) * inside).ravel()
            for row in model.coefficients
        ]
    )
    return dataclasses.replace(model, coefficients=smoothed).voxel_effect


def difference(pet, masks, genotypes, where) -> float:
    return genotype.hab_minus_mab(pet[where], masks[where], genotypes[where])


def true_effect_maps(results: Path, folds: pd.DataFrame, config: dict) -> np.ndarray:
    """(scans, voxels): each scan's true HAB-minus-MAB map on its model grid, on its normalized scale."""
    from synthpet.preprocess.settings import PetScale
    from synthpet.validation import phantom
    from synthpet.validation.truth import noisefree_scaled

    settings, seed = config["phantom"], config["seed"]
    reference = phantom.build_reference(settings["t1_voxel_mm"])
    participants = {p.subject: p for p in phantom.cohort_layout(settings, seed)}
    maps = []
    for scan in folds.itertuples():
        session = scan.session or None
        grid_mask = bids_path(results / "preproc", "anat", "mask", scan.subject, session, space="grid", desc="brain")
        pet_t1 = bids_path(results / "preproc", "pet", "pet", scan.subject, session, space="T1w", desc="brain")
        own = nib.load(phantom.truth_path(results / "phantom", scan.subject, scan.session, "noisefree"))
        measured = nib.load(pet_t1)
        rendered = {}
        for genotype_ in ("HAB", "MAB"):
            if genotype_ == scan.genotype:
                noisefree, as_measured = own, measured
            else:
                participant = participants[scan.subject]
                noisefree = phantom.noisefree_as(reference, participant, scan.session, settings, seed, genotype_)
                # the scan as it would have been measured (the same noise): its min-max scale is the one
                # the workflow would have used, so the effect is read on the scale the model sees
                change = nib.Nifti1Image(noisefree.get_fdata() - own.get_fdata(), own.affine)
                delta = resample_from_to(change, measured, order=1).get_fdata()
                brain = measured.get_fdata() > 0
                as_measured = nib.Nifti1Image(
                    ((measured.get_fdata() + delta) * brain).astype(np.float32), measured.affine
                )
            scale = PetScale.from_config(config["preprocess"])  # the run's target scale
            rendered[genotype_] = np.asarray(noisefree_scaled(noisefree, as_measured, grid_mask, scale).dataobj).ravel()
        maps.append(rendered["HAB"] - rendered["MAB"])
    return np.stack(maps)


def against_truth(folds: pd.DataFrame, pet, masks, truth: np.ndarray, grid_shape) -> None:
    genotypes = folds["genotype"].to_numpy()
    scores: dict[str, dict[str, list[float]]] = {}
    for fold in sorted(folds["fold"].unique()):
        test = folds["fold"].to_numpy() == fold
        for method in CANDIDATES:
            effect = fit_candidate(method, pet[~test], masks[~test], genotypes[~test], grid_shape)
            estimate = (effect(["HAB"]) - effect(["MAB"]))[0]
            for i in np.flatnonzero(test):
                brain, true = masks[i], truth[i][masks[i]]
                error = estimate[brain] - true
                score = scores.setdefault(method, {"map": [], "mean": []})
                score["map"].append(float((error**2).sum() / (true**2).sum()))
                score["mean"].append(abs(float(error.mean())) / abs(float(true.mean())))
    print(f"\nagainst the true HAB-MAB effect maps of {len(folds)} held-out scans (scope fold):")
    for method, score in scores.items():
        print(
            f"  {method:14s} map error median {statistics.median(score['map']):6.1%} worst {max(score['map']):6.1%}"
            f"   mean-brain effect error median {statistics.median(score['mean']):6.1%}"
            f" worst {max(score['mean']):6.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--truth", action="store_true", help="judge each method against the phantom's truth")
    parser.add_argument("--config", nargs="*", default=[], help="the config files of the run (with --truth)")
    args = parser.parse_args()

    folds, pet, masks, grid_shape = load(args.results)
    genotypes = folds["genotype"].to_numpy()
    print(
        f"{len(folds)} scans ({(genotypes == 'HAB').sum()} HAB, {(genotypes == 'MAB').sum()} MAB), "
        f"{folds['fold'].nunique()} folds, {pet.shape[1]} grid voxels"
    )
    ratios: dict[tuple[str, str, str], list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for fold in sorted(folds["fold"].unique()):
        test = folds["fold"].to_numpy() == fold
        for scope in ("fold", "cohort"):
            fitted = ~test if scope == "fold" else np.ones(len(folds), bool)
            for method in CANDIDATES:
                start = time.perf_counter()
                effect = fit_candidate(method, pet[fitted], masks[fitted], genotypes[fitted], grid_shape)(genotypes)
                seconds.setdefault(method, []).append(time.perf_counter() - start)
                corrected = np.clip(pet - effect, 0.0, 1.0) * masks
                line = [f"fold {fold} scope {scope:6s} {method:14s}"]
                for part, where in (("fitted", fitted), ("held-out", test)):
                    before = difference(pet, masks, genotypes, where)
                    after = difference(corrected, masks, genotypes, where)
                    ratios.setdefault((scope, method, part), []).append(abs(after) / abs(before))
                    line.append(f"{part} {before:+.4f} -> {after:+.4f} ({abs(after) / abs(before):5.1%})")
                print("  ".join(line), flush=True)
    print("\nmedian over folds of |HAB-MAB after| / |HAB-MAB before| (mean brain PET):")
    for (scope, method, part), values in ratios.items():
        print(
            f"  scope {scope:6s} {method:14s} {part:8s} "
            f"median {statistics.median(values):6.1%}   worst {max(values):6.1%}"
        )
    for method, values in seconds.items():
        print(f"fit time, {method}: median {statistics.median(values):.2f} s over {len(values)} fits")
    if args.truth:
        from synthpet.io.config import load_config

        against_truth(folds, pet, masks, true_effect_maps(args.results, folds, load_config(*args.config)), grid_shape)


if __name__ == "__main__":
    main()
