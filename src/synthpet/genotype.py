"""Regressing the TSPO genotype (HAB/MAB, and LAB when kept) out of the PET, voxelwise.

Each voxel's PET is modelled on genotype indicators with a least-squares fit (scikit-learn). The
correction subtracts the fitted genotype effect relative to the fit's mean design, so the grand
mean of the fitted scans is kept. Fitted on a fold's training scans only (scope ``fold``), no test
scan informs the correction of its own fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LinearRegression

from synthpet.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

ORDER = ("HAB", "MAB", "LAB")


@dataclass(frozen=True)
class GenotypeModel:
    levels: tuple[str, ...]  # genotypes with a coefficient (HAB is the reference)
    coefficients: np.ndarray  # (len(levels), voxels)
    mean_design: np.ndarray  # (len(levels),) over the scans the model was fitted on

    def design(self, genotypes) -> np.ndarray:
        return np.array([[g == level for level in self.levels] for g in genotypes], dtype=np.float64)

    def effect(self, genotypes) -> np.ndarray:
        """The genotype part of each scan's PET, relative to the fitted scans' mean: (scans, voxels)."""
        return (self.design(genotypes) - self.mean_design) @ self.coefficients

    def correct(self, pet: np.ndarray, genotypes) -> np.ndarray:
        return (pet - self.effect(genotypes)).astype(np.float32)

    def save(self, path) -> None:
        np.savez(path, levels=np.array(self.levels), coefficients=self.coefficients, mean_design=self.mean_design)

    @classmethod
    def load(cls, path) -> GenotypeModel:
        with np.load(path) as npz:
            return cls(tuple(str(v) for v in npz["levels"]), npz["coefficients"], npz["mean_design"])


def fit(pet: np.ndarray, genotypes, where: str = "the fitted scans") -> GenotypeModel:
    """Fit on ``pet`` (scans, voxels); every genotype present beside HAB gets its own coefficient."""
    present = [g for g in ORDER if g in set(genotypes)]
    if "HAB" not in present or len(present) < 2:
        raise InputError(
            f"{where} hold only {', '.join(present) or 'no'} genotype(s); the genotype effect needs HAB and "
            "MAB scans (set genotype.scope to 'cohort', or check participants.tsv)"
        )
    levels = tuple(g for g in present if g != "HAB")
    model = GenotypeModel(levels, np.zeros((len(levels), pet.shape[1])), np.zeros(len(levels)))
    design = model.design(genotypes)
    regression = LinearRegression().fit(design, pet.astype(np.float64))
    return GenotypeModel(levels, regression.coef_.T.copy(), design.mean(axis=0))


def hab_minus_mab(pet: np.ndarray, masks: np.ndarray, genotypes) -> float:
    """Difference between HAB and MAB scans of the mean PET inside each scan's brain."""
    genotypes = np.asarray(genotypes)
    means = np.array([p[m].mean() for p, m in zip(pet, masks, strict=True)])
    if not ((genotypes == "HAB").any() and (genotypes == "MAB").any()):
        return float("nan")
    return float(means[genotypes == "HAB"].mean() - means[genotypes == "MAB"].mean())


def correct_fold(
    fold: int, folds: pd.DataFrame, genotypes: dict, pet_paths, mask_paths, scope: str, model_out, summary_out, pet_outs
) -> dict:
    """Fit on fold ``fold``'s training scans (or every scan, scope 'cohort'), correct every scan.

    ``folds`` has a row per scan (``scan``, ``fold``) in the order of the path lists.
    """
    import nibabel as nib

    from synthpet.imageio import save_nifti, write_json

    images = [nib.load(p) for p in pet_paths]
    pet = np.stack([np.asarray(img.dataobj, np.float32).ravel() for img in images])
    masks = np.stack([np.asarray(nib.load(p).dataobj).ravel() > 0 for p in mask_paths])
    scans = folds["scan"].tolist()
    labels = [genotypes[s] for s in scans]
    train = (folds["fold"].to_numpy() != fold) if scope == "fold" else np.ones(len(scans), bool)
    model = fit(pet[train], [g for g, t in zip(labels, train, strict=True) if t], f"fold {fold}'s training scans")
    # the model's target must stay in [0, 1] (sigmoid output, BCE loss); the correction shifts a few
    # voxels just outside it
    corrected = np.clip(model.correct(pet, labels), 0.0, 1.0) * masks
    test = ~train if scope == "fold" else folds["fold"].to_numpy() == fold
    summary = {
        "fold": fold,
        "scope": scope,
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
