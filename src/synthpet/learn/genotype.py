"""Regressing the TSPO genotype (HAB/MAB, and LAB when kept) out of the PET, voxelwise.

Each voxel's PET is modelled on genotype indicators with a least-squares fit (scikit-learn), on
the scans whose brain mask covers that voxel: a voxel outside a scan's brain holds no PET of that
scan, and counting its zero would turn differences between the masks into a genotype effect. The
correction subtracts the fitted genotype effect relative to the mean design of the scans fitted at
that voxel, so their mean is kept.

Brains differ in size and position on the grid, so equal genotype means at every voxel still leave
the genotypes' mean brain PET apart (on the demo-scale cohort, about a fifth of the difference).
A second, brain-level term removes it: the fitted scans' mean brain PET after the voxelwise
correction, regressed on the same indicators and subtracted from every voxel. Fitted on a fold's
training scans only (scope ``fold``), no test scan informs the correction of its own fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthpet.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

ORDER = ("HAB", "MAB", "LAB")
# a genotype needs this many scans covering a voxel for its coefficient there; fewer leave that
# genotype uncorrected at the voxel (brain edges seen by few scans) rather than correct it by noise
MIN_SCANS_PER_VOXEL = 3


@dataclass(frozen=True)
class GenotypeModel:
    levels: tuple[str, ...]  # genotypes with a coefficient (HAB is the reference)
    coefficients: np.ndarray  # (len(levels), voxels)
    mean_design: np.ndarray  # (len(levels), voxels): over the scans fitted at each voxel
    brain_coefficients: np.ndarray  # (len(levels),): what the voxelwise term leaves in mean brain PET
    brain_mean_design: np.ndarray  # (len(levels),): over all fitted scans

    def design(self, genotypes) -> np.ndarray:
        return design_matrix(genotypes, self.levels)

    def effect(self, genotypes) -> np.ndarray:
        """The genotype part of each scan's PET, relative to the fitted scans' mean: (scans, voxels)."""
        return self.voxel_effect(genotypes) + self.brain_effect(genotypes)[:, None]

    def voxel_effect(self, genotypes) -> np.ndarray:
        centred = self.design(genotypes)[:, :, None] - self.mean_design[None]
        return np.einsum("slv,lv->sv", centred, self.coefficients)

    def brain_effect(self, genotypes) -> np.ndarray:
        return (self.design(genotypes) - self.brain_mean_design) @ self.brain_coefficients

    def correct(self, pet: np.ndarray, genotypes) -> np.ndarray:
        return (pet - self.effect(genotypes)).astype(np.float32)

    def save(self, path) -> None:
        np.savez_compressed(
            path,
            levels=np.array(self.levels),
            coefficients=self.coefficients.astype(np.float32),
            mean_design=self.mean_design.astype(np.float32),
            brain_coefficients=self.brain_coefficients,
            brain_mean_design=self.brain_mean_design,
        )

    @classmethod
    def load(cls, path) -> GenotypeModel:
        with np.load(path) as npz:
            return cls(
                tuple(str(v) for v in npz["levels"]),
                *(npz[key] for key in ("coefficients", "mean_design", "brain_coefficients", "brain_mean_design")),
            )


def design_matrix(genotypes, levels) -> np.ndarray:
    return np.array([[g == level for level in levels] for g in genotypes], dtype=np.float64)


METHODS = ("brain", "voxelwise")


def fit(
    pet: np.ndarray, masks: np.ndarray, genotypes, where: str = "the fitted scans", method: str = "brain"
) -> GenotypeModel:
    """Fit on ``pet`` (scans, voxels), each voxel on the scans whose ``masks`` cover it.

    Every genotype present beside HAB gets its own coefficient. Voxels covered by the same set of
    scans share one fit (one multi-output regression), so the brain's interior is one fit. Then the
    brain-level term is fitted on the voxelwise-corrected mean brain PET of every fitted scan.
    ``method='brain'`` fits the brain-level term alone: one coefficient per genotype for the whole
    brain, on each scan's mean brain PET (no voxelwise term to carry voxel noise into every scan).
    """
    # here, not at the top: a job that only applies a fitted model (the harness's, per scan) need not
    # import scikit-learn (0.6 s a job)
    from sklearn.linear_model import LinearRegression

    genotypes = np.asarray(genotypes)
    present = [g for g in ORDER if g in set(genotypes)]
    if "HAB" not in present or len(present) < 2:
        raise InputError(
            f"{where} hold only {', '.join(present) or 'no'} genotype(s); the genotype effect needs HAB and "
            "MAB scans (set genotype.scope to 'cohort', or check participants.tsv)"
        )
    levels = tuple(g for g in present if g != "HAB")
    design = design_matrix(genotypes, levels)
    coefficients = np.zeros((len(levels), pet.shape[1]))
    mean_design = np.zeros((len(levels), pet.shape[1]))
    if method == "brain":
        brain = LinearRegression().fit(design, brain_means(pet, masks))
        return GenotypeModel(levels, coefficients, mean_design, brain.coef_, design.mean(axis=0))
    if method != "voxelwise":
        raise ValueError(f"genotype.method: unknown method {method!r} (choose from {', '.join(METHODS)})")
    covered = np.flatnonzero(masks.any(axis=0))
    _, which = np.unique(np.packbits(masks[:, covered], axis=0).T, axis=0, return_inverse=True)
    by_pattern = np.argsort(which.ravel(), kind="stable")
    for voxels in np.split(covered[by_pattern], np.cumsum(np.bincount(which.ravel()))[:-1]):
        scans = masks[:, voxels[0]]
        counts = {g: int((genotypes[scans] == g).sum()) for g in ("HAB", *levels)}
        columns = [i for i, level in enumerate(levels) if counts[level] >= MIN_SCANS_PER_VOXEL]
        if counts["HAB"] < MIN_SCANS_PER_VOXEL or not columns:
            continue
        # scans of a genotype too rare here would bias the reference; they sit this fit out
        rows = scans & np.isin(genotypes, ["HAB", *[levels[i] for i in columns]])
        regression = LinearRegression().fit(design[rows][:, columns], pet[rows][:, voxels].astype(np.float64))
        coefficients[np.ix_(columns, voxels)] = regression.coef_.T
        mean_design[np.ix_(columns, voxels)] = design[rows][:, columns].mean(axis=0)[:, None]
    voxelwise = GenotypeModel(levels, coefficients, mean_design, np.zeros(len(levels)), np.zeros(len(levels)))
    corrected = voxelwise.correct(pet, genotypes)
    brain = LinearRegression().fit(design, brain_means(corrected, masks))
    return GenotypeModel(levels, coefficients, mean_design, brain.coef_, design.mean(axis=0))


def brain_means(pet: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each scan's mean PET inside its own brain mask: (scans,)."""
    return np.array([scan[mask].mean() for scan, mask in zip(pet, masks, strict=True)])


def hab_minus_mab(pet: np.ndarray, masks: np.ndarray, genotypes) -> float:
    """Difference between HAB and MAB scans of the mean PET inside each scan's brain."""
    genotypes = np.asarray(genotypes)
    means = brain_means(pet, masks)
    if not ((genotypes == "HAB").any() and (genotypes == "MAB").any()):
        return float("nan")
    return float(means[genotypes == "HAB"].mean() - means[genotypes == "MAB"].mean())


def correct_fold(
    fold: int,
    folds: pd.DataFrame,
    genotypes: dict,
    pet_paths,
    mask_paths,
    scope: str,
    model_out,
    summary_out,
    pet_outs,
    method: str = "brain",
) -> dict:
    """Fit on fold ``fold``'s training scans (or every scan, scope 'cohort'), correct every scan.

    ``folds`` has a row per scan (``scan``, ``fold``) in the order of the path lists.
    """
    import nibabel as nib

    from synthpet.io.imageio import save_nifti, write_json

    images = [nib.load(p) for p in pet_paths]
    pet = np.stack([np.asarray(img.dataobj, np.float32).ravel() for img in images])
    masks = np.stack([np.asarray(nib.load(p).dataobj).ravel() > 0 for p in mask_paths])
    scans = folds["scan"].tolist()
    labels = [genotypes[s] for s in scans]
    train = (folds["fold"].to_numpy() != fold) if scope == "fold" else np.ones(len(scans), bool)
    model = fit(
        pet[train],
        masks[train],
        [g for g, t in zip(labels, train, strict=True) if t],
        f"fold {fold}'s training scans",
        method,
    )
    # the model's target must stay in [0, 1] (sigmoid output, BCE loss); the correction shifts a few
    # voxels just outside it
    corrected = np.clip(model.correct(pet, labels), 0.0, 1.0) * masks
    test = ~train if scope == "fold" else folds["fold"].to_numpy() == fold
    summary = {
        "fold": fold,
        "scope": scope,
        "method": method,
        "fitted_on": int(train.sum()),
        "levels": list(model.levels),
        "hab_minus_mab_before": {
            "train": hab_minus_mab(pet[train], masks[train], np.asarray(labels)[train]),
            "test": hab_minus_mab(pet[test], masks[test], np.asarray(labels)[test]),
        },
        "hab_minus_mab_after": {
            "train": hab_minus_mab(corrected[train], masks[train], np.asarray(labels)[train]),
            "test": hab_minus_mab(corrected[test], masks[test], np.asarray(labels)[test]),
        },
    }
    model.save(model_out)
    write_json(summary, summary_out)
    for row, img, out in zip(corrected, images, pet_outs, strict=True):
        save_nifti(row.reshape(img.shape), img.affine, out)
    return summary
