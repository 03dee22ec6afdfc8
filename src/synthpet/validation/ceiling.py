"""The honest ceiling of the synthetic cohort: what a perfect T1w-only predictor could reach, scored
like the model on held-out scans. It needs the truth's anatomical part, which only the phantom knows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from synthpet.evaluate import metrics
from synthpet.evaluate.statistics import HEADLINE_PREDICTORS, training_means

HONEST_CEILING = "ceiling"  # the truth's anatomical part and the population mean, as the training scans weigh them


def fitted_scale_ceiling(
    scans: pd.DataFrame, anatomy: np.ndarray, targets: dict[str, np.ndarray], min_target: float
) -> pd.DataFrame:
    """The honest ceiling, what a perfect T1w-only predictor could reach, scored like the model: it
    knows each scan's anatomical part exactly (what its anatomy explains, in SUV: ``anatomy``,
    (scans, voxels), NaN outside each scan's brain) and the population mean, and weighs the two as
    the fold's training scans say: a least-squares fit of the target on the anatomical part (min-max
    scaled on its own brain), the training scans' mean at the voxel (each training scan's own left
    out, ``training_means``) and an offset.

    Unlike the anatomical part on the measured PET's range (the oracle), it knows nothing that a
    T1w-only predictor could not: not the held-out scan's hotspots, global factor, genotype or range.
    Since the population mean is one of its inputs, it does no worse than the mean where the anatomy
    tells nothing (tested). Returns ``{metric}_ceiling_vs_{target}`` per scan.
    """
    folds = scans["fold"].to_numpy()
    rows = [{} for _ in range(len(scans))]
    pet = targets["pet"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a scan with no brain voxel: all NaN
        low, high = np.nanmin(anatomy, axis=1, keepdims=True), np.nanmax(anatomy, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        anatomy = (anatomy - low) / (high - low)
    for fold in np.unique(folds):
        held_out, training = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        if len(training) < 2:
            continue
        mean, left_out = training_means(pet[training])
        features = np.stack([anatomy[training], left_out, np.ones_like(left_out)], axis=-1)
        known = np.isfinite(features).all(axis=-1) & np.isfinite(pet[training])
        coefficients, *_ = np.linalg.lstsq(features[known], pet[training][known], rcond=None)
        for i in held_out:
            prediction = np.stack([anatomy[i], mean, np.ones_like(mean)], axis=-1) @ coefficients
            for target, volumes in targets.items():
                for name, value in metrics.compare(prediction, volumes[i], min_target).items():
                    rows[i][f"{name}_{HONEST_CEILING}_vs_{target}"] = value
    return pd.DataFrame(rows, index=scans.index)


# the headline with the ceiling beside the model and the baselines
HEADLINE_WITH_CEILING = (*HEADLINE_PREDICTORS, (HONEST_CEILING, "ceiling: perfect T1w-only predictor"))
