"""Statistics over scans: the paper's tables (2 to 5), the baselines scored like the model, the
skill over them, regional agreement and group comparisons, from the per-scan measures (and, where a
table needs voxels, the scans' MNI images). Tests that pool scans count participants: a
participant's repeated scans are averaged first.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from synthpet.evaluate import metrics


def pvalue(result: pd.DataFrame) -> float:
    """The p-value of a pingouin result (named 'p-val' before pingouin 0.6 and 'p_val' after)."""
    return float(result["p_val" if "p_val" in result.columns else "p-val"].iloc[0])


def mean_sd(values) -> str:
    values = np.asarray(values, float)
    return f"{np.nanmean(values):.4f} ± {np.nanstd(values, ddof=1):.4f}" if len(values) > 1 else f"{values[0]:.4f}"


def per_participant(table: pd.DataFrame, values, within=()) -> pd.DataFrame:
    """Repeated scans of one participant averaged into one row (per ``within`` key, e.g. the region),
    so that a test pooling scans does not count a participant's sessions as independent observations.
    Group and genotype are the participant's and are carried along."""
    carried = [c for c in ("group", "genotype") if c in table.columns]
    return table.groupby([*within, "subject", *carried], sort=False, as_index=False)[list(values)].mean()


def table2_regional(regions: pd.DataFrame) -> pd.DataFrame:
    """Table 2: regional normalized SUV over scans, original, synthetic and smoothed (mean, SD), and the
    population-mean baseline where the table has it."""
    images = [("pet", "original"), ("synthetic", "synthetic"), ("pet_smoothed", "smoothed")]
    if "popmean" in regions:  # the baseline beside the model
        images.append(("popmean", "popmean"))
    rows = []
    for region, part in regions.groupby("region", sort=False):
        row = {"region": region, "scans": int(part["pet"].notna().sum())}
        for image, label in images:
            row[f"{label}_mean"], row[f"{label}_sd"] = part[image].mean(), part[image].std(ddof=1)
        rows.append(row)
    overall = {"region": "all regions", "scans": regions["scan"].nunique()}
    for image, label in images:
        overall[f"{label}_mean"], overall[f"{label}_sd"] = regions[image].mean(), regions[image].std(ddof=1)
    return pd.DataFrame([*rows, overall])


def median_split_p(smoothed: np.ndarray, synthetic: np.ndarray) -> float:
    """Mann-Whitney U p-value of the synthetic SUV between scans below and above the smoothed true median."""
    import pingouin as pg

    smoothed, synthetic = np.asarray(smoothed, float), np.asarray(synthetic, float)
    high = smoothed > np.median(smoothed)
    if high.sum() < 2 or (~high).sum() < 2:
        return float("nan")
    return pvalue(pg.mwu(synthetic[high], synthetic[~high], alternative="two-sided"))


def table3_median_split(regions: pd.DataFrame, names) -> pd.DataFrame:
    """Table 3: per region, median-split Mann-Whitney p-values on all participants, HAB and MAB (a
    participant's repeated scans averaged first)."""
    rows = []
    for region in names:
        part = regions[regions["region"] == region].dropna(subset=["pet_smoothed", "synthetic"])
        part = per_participant(part, ["pet_smoothed", "synthetic"])
        row = {"region": region, "participants": len(part)}
        for label, subset in (
            ("ALL", part),
            ("HAB", part[part["genotype"] == "HAB"]),
            ("MAB", part[part["genotype"] == "MAB"]),
        ):
            row[f"p_{label}"] = median_split_p(subset["pet_smoothed"], subset["synthetic"])
        rows.append(row)
    return pd.DataFrame(rows)


TABLE4_METRICS = ("mse", "percent_mse", "normdiff", "percdiff", "mae", "psnr")
# the pattern apart from the scale (metrics.compare), for the model and for every baseline
PATTERN_METRICS = ("r", "mse_fitted", "scale_share")


def scans_mean(pet: np.ndarray) -> np.ndarray:
    """The mean over scans (axis 0) at each voxel, of the scans whose brain holds it (NaN outside a
    brain); NaN where none does."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a voxel in no scan's brain: NaN
        return np.nanmean(pet, axis=0)


def population_mean_baseline(scans: pd.DataFrame, targets: dict[str, np.ndarray], min_target: float) -> pd.DataFrame:
    """The population-mean baseline, scored like the model: each scan predicted by the mean true PET
    (in MNI space) of its fold's training scans, i.e. of every scan in the other folds.

    Returns one row per scan (in the order of ``scans``) with ``{metric}_popmean_vs_{target}``.
    """
    folds = scans["fold"].to_numpy()
    rows = [{} for _ in range(len(scans))]
    for fold in np.unique(folds):
        held_out, training = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        if len(training) == 0:
            continue
        mean = scans_mean(targets["pet"][training])
        for i in held_out:
            for target, volumes in targets.items():
                for name, value in metrics.compare(mean, volumes[i], min_target).items():
                    rows[i][f"{name}_popmean_vs_{target}"] = value
    return pd.DataFrame(rows, index=scans.index)


def training_means(pet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training scans' mean PET at each voxel (over the scans whose brain holds it), and for each
    training scan the same mean without it, so that a fit on the training scans does not learn to
    trust a mean that holds the very target it predicts. ``pet``: (scans, voxels), NaN outside a brain."""
    present = np.isfinite(pet)
    total, count = np.nansum(pet, axis=0), present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count, (total[None] - np.nan_to_num(pet)) / (count[None] - present)


# the T1w-regression baseline: T1w intensity at three scales (voxel, and Gaussian sigma 1 and 3 voxels:
# the tissue mix around the voxel) and the population mean at the voxel
T1W_SMOOTHING_VOXELS = (1.0, 3.0)
T1W_REGRESSION_SAMPLES = 300_000  # training voxels drawn per fold


def t1w_features(path: str, brain: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
    """(voxels inside ``brain``, 3): the scan's T1w in MNI space at three scales; NaN where ``own`` (its
    own brain, over the voxels inside ``brain``) is False."""
    from scipy import ndimage

    volume = np.asarray(nib.load(path).dataobj, np.float32)
    scales = [volume, *(ndimage.gaussian_filter(volume, sigma) for sigma in T1W_SMOOTHING_VOXELS)]
    features = np.stack([scale[brain] for scale in scales], axis=1)
    if own is not None:
        features[~own] = np.nan
    return features


def t1w_regression_baseline(
    scans: pd.DataFrame,
    t1w: np.ndarray,
    targets: dict[str, np.ndarray],
    min_target: float,
    seed: int = 0,
    threads: int = 1,
) -> pd.DataFrame:
    """A regression of the true PET on the T1w, scored like the model: per fold, a gradient-boosted
    regressor (scikit-learn) of each voxel's PET on its T1w features (``t1w_features``) and the
    population mean at that voxel, fitted on the fold's training scans, predicts the held-out scans.

    ``t1w``: (scans, voxels, features), NaN outside each scan's brain. The population-mean feature of
    a training scan leaves that scan out, so that the fit does not learn to trust a mean that holds
    the very target it predicts. Returns ``{metric}_t1wreg_vs_{target}`` per scan.

    The regressor runs on ``threads`` OpenMP threads (the job's): left to take every core beside other
    busy processes, its threads spin and wait on each other (the unit test took 173 s beside the demo
    instead of 1.3 s).
    """
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    folds = scans["fold"].to_numpy()
    rows = [{} for _ in range(len(scans))]
    rng = np.random.default_rng(seed)
    pet = targets["pet"]
    described = np.isfinite(t1w).all(axis=2)
    with threadpool_limits(limits=threads, user_api="openmp"):
        for fold in np.unique(folds):
            held_out, training = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
            if len(training) < 2:
                continue
            mean, left_out = training_means(pet[training])
            present = np.isfinite(pet[training])
            usable = described[training] & present & np.isfinite(left_out)
            scan, voxel = np.nonzero(usable)
            chosen = rng.choice(len(scan), size=min(len(scan), T1W_REGRESSION_SAMPLES), replace=False)
            scan, voxel = scan[chosen], voxel[chosen]
            features = np.column_stack([t1w[training[scan], voxel], left_out[scan, voxel]])
            values = pet[training[scan], voxel]
            regression = HistGradientBoostingRegressor(max_iter=200, random_state=seed).fit(features, values)
            for i in held_out:
                inputs = np.concatenate([t1w[i], mean[:, None]], axis=1)
                prediction = np.full(len(inputs), np.nan)
                valid = np.isfinite(inputs).all(axis=1)
                prediction[valid] = regression.predict(inputs[valid])
                for target, volumes in targets.items():
                    for name, value in metrics.compare(prediction, volumes[i], min_target).items():
                        rows[i][f"{name}_t1wreg_vs_{target}"] = value
    return pd.DataFrame(rows, index=scans.index)


BASELINES = ("popmean", "t1wreg")  # the population mean; the T1w regression


def skill(model_mse, baseline_mse) -> float:
    """1 - MSE(model) / MSE(baseline) over the scans that have both: > 0 when the model beats the baseline."""
    model_mse, baseline_mse = np.asarray(model_mse, float), np.asarray(baseline_mse, float)
    both = np.isfinite(model_mse) & np.isfinite(baseline_mse)
    return float(1.0 - model_mse[both].mean() / baseline_mse[both].mean())


def skill_interval(
    subjects, model_mse, baseline_mse, draws: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``skill`` over participants: participants are drawn with
    replacement, each with all of their scans, so repeated scans do not narrow the interval."""
    model_mse, baseline_mse = np.asarray(model_mse, float), np.asarray(baseline_mse, float)
    both = np.isfinite(model_mse) & np.isfinite(baseline_mse)  # the scans that ``skill`` counts
    subjects, model_mse, baseline_mse = np.asarray(subjects)[both], model_mse[both], baseline_mse[both]
    names, index = np.unique(subjects, return_inverse=True)
    if len(names) < 2:
        return float("nan"), float("nan")
    # per participant: sums and counts, so a draw's skill is a ratio of weighted sums
    model_sum = np.bincount(index, model_mse, len(names))
    base_sum = np.bincount(index, baseline_mse, len(names))
    drawn = np.random.default_rng(seed).integers(0, len(names), size=(draws, len(names)))
    counts = np.apply_along_axis(np.bincount, 1, drawn, minlength=len(names))
    values = 1.0 - (counts @ model_sum) / (counts @ base_sum)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def table4_metrics(scans: pd.DataFrame, ceilings: Sequence[str] = ()) -> pd.DataFrame:
    """Table 4: metrics of the synthetic PET against the raw and smoothed true PET, all scans and per fold,
    with each baseline's MSE (``BASELINES``) and the model's skill over it, with a 95 % bootstrap
    interval over participants, on the raw MSE and on the pattern alone (``mse_fitted``);
    ``ceilings``: other predictors scored in ``scans`` whose skill over the population mean Table 4
    shows too (a validation's ceilings of what a T1w-only predictor can reach)."""
    rows = []
    for label, part in [("all", scans), *((f"fold {f}", p) for f, p in scans.groupby("fold"))]:
        row = {"scans": label, "n": len(part)}
        if "subject" in part:
            row["participants"] = part["subject"].nunique()
        for target, suffix in (("pet", ""), ("pet_smoothed", "_smoothed")):
            for name in (*TABLE4_METRICS, "ssim", *PATTERN_METRICS):
                column = f"{name}_synthetic_vs_{target}"
                if column in part:
                    row[f"{name}{suffix}"] = mean_sd(part[column])
            for name in BASELINES:
                if f"mse_{name}_vs_{target}" not in part:
                    continue
                row[f"mse_{name}{suffix}"] = mean_sd(part[f"mse_{name}_vs_{target}"])
                for error in ("mse", "mse_fitted"):  # the skill on the raw MSE, and on the pattern alone
                    columns = f"{error}_synthetic_vs_{target}", f"{error}_{name}_vs_{target}"
                    if not all(column in part for column in columns):
                        continue
                    model, baseline = part[columns[0]], part[columns[1]]
                    skill_name = f"skill{error.removeprefix('mse')}_vs_{name}{suffix}"
                    row[skill_name] = round(skill(model, baseline), 4)
                    if "subject" in part:
                        low, high = skill_interval(part["subject"], model, baseline)
                        row[f"{skill_name}_low"] = round(low, 4)
                        row[f"{skill_name}_high"] = round(high, 4)
                for name_of in PATTERN_METRICS:
                    if f"{name_of}_{name}_vs_{target}" in part:
                        row[f"{name_of}_{name}{suffix}"] = mean_sd(part[f"{name_of}_{name}_vs_{target}"])
            for ceiling in ceilings:
                bound, popmean = f"mse_{ceiling}_vs_{target}", f"mse_popmean_vs_{target}"
                if bound not in part or popmean not in part:
                    continue
                row[f"mse_{ceiling}{suffix}"] = mean_sd(part[bound])
                row[f"skill_of_{ceiling}_vs_popmean{suffix}"] = round(skill(part[bound], part[popmean]), 4)
                for name_of in PATTERN_METRICS:
                    if f"{name_of}_{ceiling}_vs_{target}" in part:
                        row[f"{name_of}_{ceiling}{suffix}"] = mean_sd(part[f"{name_of}_{ceiling}_vs_{target}"])
                fitted = f"mse_fitted_{ceiling}_vs_{target}", f"mse_fitted_popmean_vs_{target}"
                if all(column in part for column in fitted):
                    row[f"skill_fitted_of_{ceiling}_vs_popmean{suffix}"] = round(
                        skill(part[fitted[0]], part[fitted[1]]), 4
                    )
        row["cnr_original"] = mean_sd(part["cnr_pet"])
        row["cnr_smoothed"] = mean_sd(part["cnr_pet_smoothed"])
        row["cnr_synthetic"] = mean_sd(part["cnr_synthetic"])
        rows.append(row)
    return pd.DataFrame(rows)


# the headline's predictors: (column name in the per-scan measures, what a reader calls it)
HEADLINE_PREDICTORS = (
    ("synthetic", "model (synthetic PET)"),
    ("popmean", "population mean"),
    ("t1wreg", "T1w regression"),
)


def _interval_text(subjects, model, baseline) -> str:
    value = skill(model, baseline)
    if subjects is None:
        return f"{value:.3f}"
    low, high = skill_interval(subjects, model, baseline)
    return f"{value:.3f} ({low:.3f} to {high:.3f})"


def headline_table(
    scans: pd.DataFrame, target: str = "pet", predictors: Sequence[tuple[str, str]] = HEADLINE_PREDICTORS
) -> pd.DataFrame:
    """The results at a glance, all scans and per fold: for the model and both baselines (and any other
    ``predictors`` scored in ``scans``: a validation adds its ceiling), the MSE, r and SSIM against the
    true PET, and the skill over the population mean with its 95 % interval over participants, on the
    raw MSE and on the pattern alone (after a per-scan scale and offset fit). From the same per-scan
    measures as Table 4."""
    rows = []
    subjects = scans["subject"] if "subject" in scans else None
    for label, part in [("all", scans), *((f"fold {f}", p) for f, p in scans.groupby("fold"))]:
        who = None if subjects is None else subjects.loc[part.index]
        baseline = part[f"mse_popmean_vs_{target}"], part[f"mse_fitted_popmean_vs_{target}"]
        for key, name in predictors:
            if f"mse_{key}_vs_{target}" not in part:
                continue
            raw, fitted = part[f"mse_{key}_vs_{target}"], part[f"mse_fitted_{key}_vs_{target}"]
            ssim = part.get(f"ssim_{key}_vs_{target}")
            rows.append(
                {
                    "scans": label,
                    "n": len(part),
                    "predictor": name,
                    "mse": round(float(raw.mean()), 5),
                    "r": round(float(part[f"r_{key}_vs_{target}"].mean()), 3),
                    "ssim": round(float(ssim.mean()), 3) if ssim is not None else float("nan"),
                    "skill_vs_popmean": "(the baseline)" if key == "popmean" else _interval_text(who, raw, baseline[0]),
                    "skill_on_pattern_vs_popmean": (
                        "(the baseline)" if key == "popmean" else _interval_text(who, fitted, baseline[1])
                    ),
                }
            )
    return pd.DataFrame(rows)


def own_brains(masks, brain: np.ndarray) -> np.ndarray:
    """(scans, voxels inside ``brain``): each scan's own brain mask."""
    return np.stack([np.asarray(nib.load(p).dataobj)[brain] > 0 for p in masks])


def brain_vectors(paths, brain: np.ndarray, own: np.ndarray | None = None) -> np.ndarray:
    """(scans, voxels) of the images inside ``brain``; NaN outside each scan's own brain (``own_brains``)."""
    vectors = np.stack([np.asarray(nib.load(p).dataobj, np.float32)[brain] for p in paths])
    if own is not None:
        vectors[~own] = np.nan
    return vectors


def table5_specificity(
    scans: pd.DataFrame, synthetic: np.ndarray, targets: dict[str, np.ndarray], min_target: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 5: each synthetic PET against every other participant's true PET, and against its own.

    Returns (per-scan table: own and mean-over-others metrics, summary with the paired one-sided
    Wilcoxon test that the own MSE is lower than the others', over participants: a participant's
    repeated scans averaged first).
    """
    import pingouin as pg

    subjects = scans["subject"].to_numpy()
    per_scan = []
    for i, scan in enumerate(scans["scan"]):
        row = {"scan": scan, "subject": subjects[i]}
        others = np.flatnonzero(subjects != subjects[i])
        for target, volumes in targets.items():
            own = metrics.compare(synthetic[i], volumes[i], min_target)
            other = [metrics.compare(synthetic[i], volumes[j], min_target) for j in others]
            for name in TABLE4_METRICS:
                row[f"{name}_own_{target}"] = own[name]
                row[f"{name}_others_{target}"] = float(np.mean([o[name] for o in other])) if other else np.nan
        per_scan.append(row)
    per_scan = pd.DataFrame(per_scan)
    summary = []
    for target in targets:
        row = {"target": target, "scans": len(per_scan), "participants": per_scan["subject"].nunique()}
        for name in TABLE4_METRICS:
            row[f"{name}_own"] = mean_sd(per_scan[f"{name}_own_{target}"])
            row[f"{name}_others"] = mean_sd(per_scan[f"{name}_others_{target}"])
        pair = [f"mse_own_{target}", f"mse_others_{target}"]
        participants = per_participant(per_scan, pair)
        own, others = participants[pair[0]], participants[pair[1]]
        valid = own.notna() & others.notna()
        row["p_own_mse_lower"] = (
            pvalue(pg.wilcoxon(own[valid], others[valid], alternative="less")) if valid.sum() >= 2 else np.nan
        )
        summary.append(row)
    return per_scan, pd.DataFrame(summary)


def correlations(regions: pd.DataFrame) -> pd.DataFrame:
    """Per region, Pearson r and p across participants (repeated scans averaged): synthetic vs smoothed
    true, synthetic vs T1w, smoothed true vs T1w."""
    import pingouin as pg

    pairs = (("synthetic", "pet_smoothed"), ("synthetic", "t1w"), ("pet_smoothed", "t1w"))
    rows = []
    for region, part in per_participant(regions, ["synthetic", "pet_smoothed", "t1w"], ("region",)).groupby(
        "region", sort=False
    ):
        for x, y in pairs:
            data = part[[x, y]].dropna()
            if len(data) < 3 or data[x].std() == 0 or data[y].std() == 0:
                r, p = np.nan, np.nan
            else:
                result = pg.corr(data[x], data[y], method="pearson")
                r, p = float(result["r"].iloc[0]), pvalue(result)
            rows.append({"region": region, "pair": f"{x} vs {y}", "participants": len(data), "r": r, "p": p})
    return pd.DataFrame(rows)


def regional_population_mean(regions: pd.DataFrame) -> pd.Series:
    """The population-mean baseline in regional terms: for each scan and region, the mean measured
    regional value (``pet``) of its fold's training scans, i.e. of every scan of the other folds."""
    baseline = pd.Series(np.nan, index=regions.index)
    for fold in regions["fold"].unique():
        held_out = regions["fold"] == fold
        training = regions[~held_out].groupby("region")["pet"].mean()
        baseline[held_out] = regions.loc[held_out, "region"].map(training)
    return baseline


REGIONAL_PREDICTIONS = ("synthetic", "popmean")  # the model, and the baseline where the table has it


def regional_agreement(regions: pd.DataFrame, names, target: str = "pet_smoothed") -> pd.DataFrame:
    """Per region, agreement of the synthetic (and, where present, the population-mean baseline's)
    with the true regional SUV over participants (repeated scans averaged): Pearson r, ICC(A,1)
    (two-way random, absolute agreement), the Bland-Altman bias (prediction - true) with its 95 %
    limits, the MSE over participants and the model's skill over the baseline, 1 - MSE / MSE."""
    import pingouin as pg

    predictions = [name for name in REGIONAL_PREDICTIONS if name in regions]
    rows = []
    for region in names:
        part = regions[regions["region"] == region].dropna(subset=[*predictions, target])
        data = per_participant(part, [*predictions, target])
        errors = {}
        for prediction in predictions:
            row = {"region": region, "prediction": prediction, "target": target, "participants": len(data)}
            difference = data[prediction] - data[target]
            row["bias"] = difference.mean()
            spread = 1.96 * difference.std(ddof=1) if len(data) > 1 else np.nan
            row["limit_low"], row["limit_high"] = row["bias"] - spread, row["bias"] + spread
            row["mse"] = errors[prediction] = float((difference**2).mean()) if len(data) else np.nan
            row["r"] = row["icc"] = np.nan
            if len(data) >= 3 and data[prediction].std() > 0 and data[target].std() > 0:
                row["r"] = float(np.corrcoef(data[prediction], data[target])[0, 1])
                long = data.melt(id_vars="subject", value_vars=[prediction, target], var_name="rater")
                icc = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="value")
                # named 'ICC(A,1)' from pingouin 0.7, 'ICC2' before
                row["icc"] = float(icc.loc[icc["Type"].isin(["ICC(A,1)", "ICC2"]), "ICC"].iloc[0])
            rows.append(row)
        if "popmean" in errors and errors["popmean"] > 0:
            rows[-len(predictions)]["skill_vs_popmean"] = 1.0 - errors["synthetic"] / errors["popmean"]
    return pd.DataFrame(rows)


def group_comparison(regions: pd.DataFrame, names) -> pd.DataFrame:
    """Per region and group, original vs synthetic regional SUV: paired Wilcoxon signed-rank test over
    participants (repeated scans averaged)."""
    import pingouin as pg

    rows = []
    for region in names:
        part = regions[regions["region"] == region].dropna(subset=["pet", "synthetic"])
        for group, data in per_participant(part, ["pet", "synthetic"]).groupby("group"):
            p = (
                pvalue(pg.wilcoxon(data["pet"], data["synthetic"]))
                if len(data) >= 2 and (data["pet"] != data["synthetic"]).any()
                else np.nan
            )
            rows.append(
                {
                    "region": region,
                    "group": group,
                    "participants": len(data),
                    "original_mean": data["pet"].mean(),
                    "synthetic_mean": data["synthetic"].mean(),
                    "p_wilcoxon": p,
                }
            )
    return pd.DataFrame(rows)


def write_tsv(table: pd.DataFrame, path: str | Path, float_format: str | None = "%.6g") -> None:
    """``table`` as a TSV, its numbers to 6 significant digits (``float_format=None``: every digit, for
    a table that a later job reads back and computes on)."""
    from synthpet.io.imageio import atomic_path

    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format=float_format)


def read_cohort(scans_tsv: str, folds_tsv: str, metrics: Sequence[str]) -> pd.DataFrame:
    """The cohort table (scan, subject, group, genotype) with each scan's fold, in the order of the
    per-scan measures ``metrics`` (named ``<scan>_metrics.json``)."""
    from synthpet.learn.folds import read_folds

    cohort = pd.read_csv(scans_tsv, sep="\t", dtype=str)
    cohort = cohort.merge(read_folds(folds_tsv)[["scan", "fold"]], on="scan", how="left")
    names = [Path(p).name.removesuffix("_metrics.json") for p in metrics]
    return cohort.set_index("scan").loc[names].reset_index()


def read_measures(paths: Sequence[str]) -> pd.DataFrame:
    """The per-scan measures, one JSON per scan, a row each."""
    import json

    return pd.DataFrame([json.loads(Path(p).read_text()) for p in paths])


def read_regions(paths: Sequence[str], cohort: pd.DataFrame) -> pd.DataFrame:
    """The per-scan regional means (a TSV per scan, in the order of ``cohort``), each row with its
    scan's cohort columns."""
    return pd.concat(
        [pd.read_csv(p, sep="\t").assign(**row) for p, row in zip(paths, cohort.to_dict("records"), strict=True)],
        ignore_index=True,
    )


def write_tables(inputs: dict, outputs: dict, voxel_mm: int, min_target: float, threads: int = 1) -> None:
    """Every table of the evaluation from the per-scan measures (and the MNI images, for the baselines
    and Table 5)."""
    from synthpet.evaluate.atlas import table_regions
    from synthpet.evaluate.mni import template

    cohort = read_cohort(inputs["scans"], inputs["folds"], inputs["metrics"])
    scans = pd.concat([cohort, read_measures(inputs["metrics"])], axis=1)
    regions = read_regions(inputs["regions"], cohort)
    regions["popmean"] = regional_population_mean(regions)
    paper = table_regions(regions["region"])
    _, brain = template(voxel_mm)
    # each scan is scored inside its own brain too (scored_region); cross-scan comparisons where both are
    own = own_brains(inputs["mask"], brain)  # read once, used for every image
    synthetic = brain_vectors(inputs["synthetic"], brain, own)
    targets = {key: brain_vectors(inputs[key], brain, own) for key in ("pet", "pet_smoothed")}
    t1w = np.stack([t1w_features(t, brain, o) for t, o in zip(inputs["t1w"], own, strict=True)])
    scored = [
        population_mean_baseline(scans, targets, min_target),
        t1w_regression_baseline(scans, t1w, targets, min_target, threads=threads),
    ]
    scans = pd.concat([scans, *scored], axis=1)
    for name in BASELINES:  # each scan's own skill over each baseline
        for target in targets:
            model, baseline = scans[f"mse_synthetic_vs_{target}"], scans[f"mse_{name}_vs_{target}"]
            scans[f"skill_vs_{name}_{target}"] = 1.0 - model / baseline
    # every digit: later jobs compute on these two (the validation's Table 4 is this one with its ceilings)
    write_tsv(scans, outputs["scan_metrics"], float_format=None)
    write_tsv(regions, outputs["regions"], float_format=None)
    write_tsv(table2_regional(regions), outputs["table2"])
    write_tsv(table3_median_split(regions, paper), outputs["table3"])
    write_tsv(table4_metrics(scans), outputs["table4"])
    write_tsv(headline_table(scans), outputs["headline"])
    per_scan, summary = table5_specificity(scans, synthetic, targets, min_target)
    write_tsv(summary, outputs["table5"])
    write_tsv(per_scan, outputs["table5_scans"])
    write_tsv(correlations(regions), outputs["correlations"])
    write_tsv(regional_agreement(regions, paper), outputs["agreement"])
    write_tsv(group_comparison(regions, paper), outputs["groups"])
