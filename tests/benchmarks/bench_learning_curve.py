"""Benchmark: how many training participants the model needs before it beats the baselines.

    snakemake --configfile config/config.yaml tests/benchmarks/genotype_cohort.yaml --cores 2 \\
        --until genotype_correction
    python tests/benchmarks/bench_learning_curve.py results/bench-genotype \\
        --config config/config.yaml tests/benchmarks/genotype_cohort.yaml --sizes 4 8 16 30 \\
        --figure docs/figures/learning-curve.png

RESULTS_DIR is a workflow output directory with the folds (``cohort/folds.tsv``), every scan's
T1w and brain mask on the model grid (``preproc/``) and each fold's genotype-corrected PET
(``folds/fold-N/pet/``): the volumes the workflow's training jobs read. The settings of training
and model are those of the config files the run used (the demo's, for a run on top of
``config/config.yaml``).

For every fold, and every number k of training participants in ``--sizes`` (no more than the
fold's other folds hold), k participants are drawn from the fold's training participants (each
with all of their scans; a seeded draw per fold, k and repeat) and, on exactly those scans:

- the model is trained as ``train_fold`` trains it in the workflow;
- the population mean is their mean PET at each voxel;
- the T1w regression is fitted (``statistics.t1w_regression_baseline``: a gradient-boosted
  regression of each voxel's PET on its T1w at three scales and the population mean).

All three then predict the fold's held-out scans, which no draw ever holds, and are scored on the
model grid inside each scan's own brain mask against its PET as the model was trained to predict
it (fold-corrected). Printed per k: the MSE of each predictor, and the model's skill over each
baseline (1 - MSE / MSE of the baseline over all held-out scans of all folds) with a 95 %
bootstrap interval over participants; the same after each scan's scale and offset are fitted
(the pattern alone). The genotype correction itself was fitted on each fold's whole training
part, not on the k drawn: one coefficient per genotype, the same for every k.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

PREDICTORS = {"model": "model", "popmean": "population mean", "t1wreg": "T1w regression"}


def grid_file(results: Path, scan: pd.Series, datatype: str, pattern: str) -> Path:
    """The one file of a scan under preproc/ that matches ``pattern`` (entity names vary by dataset)."""
    folder = results / "preproc" / f"sub-{scan.subject}"
    if scan.session:
        folder = folder / f"ses-{scan.session}"
    found = sorted((folder / datatype).glob(f"sub-{scan.subject}*{pattern}"))
    if len(found) != 1:
        raise SystemExit(f"{scan.scan}: expected one {pattern} in {folder / datatype}, found {len(found)}")
    return found[0]


def load_cohort(results: Path) -> tuple[pd.DataFrame, dict]:
    folds = pd.read_csv(results / "cohort" / "folds.tsv", sep="\t", dtype=str, keep_default_na=False)
    folds["fold"] = folds["fold"].astype(int)
    volumes = {"t1w": [], "mask": []}
    for scan in folds.itertuples():
        volumes["t1w"].append(str(grid_file(results, scan, "anat", "_space-grid_desc-norm_T1w.nii.gz")))
        volumes["mask"].append(str(grid_file(results, scan, "anat", "_space-grid_desc-brain_mask.nii.gz")))
    return folds, volumes


def draws(folds: pd.DataFrame, sizes, repeats: int, seed: int, chosen_folds) -> list[dict]:
    """Every (fold, k, repeat) with its drawn training participants, the largest trainings first."""
    tasks = []
    for fold in chosen_folds:
        pool = sorted(folds.loc[folds["fold"] != fold, "subject"].unique())
        for k in sizes:
            if k > len(pool):
                print(f"fold {fold}: {len(pool)} training participants, fewer than {k}; size skipped")
                continue
            for repeat in range(repeats):
                rng = np.random.default_rng([seed, fold, k, repeat])
                tasks.append(
                    {"fold": fold, "k": k, "repeat": repeat, "subjects": sorted(rng.choice(pool, k, replace=False))}
                )
    return sorted(tasks, key=lambda task: -task["k"])


def run_draw(task: dict, results: str, folds: pd.DataFrame, volumes: dict, config: dict) -> pd.DataFrame:
    """Train on one draw and score the model and both baselines on the fold's held-out scans."""
    import torch

    from synthpet.evaluate import metrics, statistics
    from synthpet.learn.inference import predict_volume
    from synthpet.learn.training import FoldData, TrainConfig, load_volumes, train_fold

    torch.set_num_threads(1)
    fold = task["fold"]
    train = np.flatnonzero(folds["subject"].isin(task["subjects"]).to_numpy() & (folds["fold"] != fold).to_numpy())
    held_out = np.flatnonzero((folds["fold"] == fold).to_numpy())
    pet = [f"{results}/folds/fold-{fold}/pet/{scan}_space-grid_desc-genocorr_pet.nii.gz" for scan in folds["scan"]]

    def pick(paths, rows):
        return [paths[i] for i in rows]

    settings = TrainConfig.from_config(config)
    tic = time.perf_counter()
    data = load_volumes(pick(volumes["t1w"], train), pick(pet, train), pick(volumes["mask"], train))
    # no held-out loss per epoch: the held-out scans are scored once, below, beside the baselines
    nothing = FoldData(*(tensor[:0] for tensor in (data.inputs, data.targets, data.masks)))
    with tempfile.TemporaryDirectory() as tmp:
        model, _, _ = train_fold(
            data,
            nothing,
            settings,
            fold,
            Path(tmp) / "checkpoint.pt",
            log=lambda line: None,
        )
    seconds = time.perf_counter() - tic
    model.eval()

    # every scan of the draw and the fold's held-out scans, on the voxels any of their brains holds
    rows = np.concatenate([held_out, train])
    masks = np.stack([np.asarray(nib.load(volumes["mask"][i]).dataobj) > 0 for i in rows])
    brain = masks.any(axis=0)
    own = masks[:, brain]
    target = np.stack([np.asarray(nib.load(pet[i]).dataobj, np.float32)[brain] for i in rows])
    target[~own] = np.nan
    t1w = np.stack([statistics.t1w_features(volumes["t1w"][i], brain, own[n]) for n, i in enumerate(rows)])
    # fold 0: the held-out scans, fold 1: the draw; each baseline fits on one and predicts the other
    scans = pd.DataFrame({"fold": [0] * len(held_out) + [1] * len(train)})
    min_target = float(config["evaluation"]["percdiff_min_target"])
    baselines = pd.concat(
        [
            statistics.population_mean_baseline(scans, {"pet": target}, min_target),
            statistics.t1w_regression_baseline(scans, t1w, {"pet": target}, min_target, seed=config["seed"]),
        ],
        axis=1,
    ).iloc[: len(held_out)]
    table = []
    for n, i in enumerate(held_out):
        volume = nib.load(volumes["t1w"][i]).get_fdata(dtype=np.float32)
        prediction = predict_volume(model, volume, masks[n], torch.device("cpu"))[brain]
        row = {"fold": fold, "k": task["k"], "repeat": task["repeat"], "subject": folds["subject"].iloc[i]}
        row["train_scans"], row["train_seconds"] = len(train), seconds
        scores = metrics.compare(prediction, target[n], min_target)
        row |= {f"{name}_model": scores[name] for name in ("mse", "mse_fitted", "r")}
        for baseline in statistics.BASELINES:
            row |= {
                f"{name}_{baseline}": baselines[f"{name}_{baseline}_vs_pet"].iloc[n]
                for name in ("mse", "mse_fitted", "r")
            }
        table.append(row)
    print(
        f"fold {fold} k {task['k']:>2} repeat {task['repeat']}: {len(train)} scans, trained in {seconds:.0f} s",
        flush=True,
    )
    return pd.DataFrame(table)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    from synthpet.evaluate.statistics import skill, skill_interval

    rows = []
    for k, part in table.groupby("k"):
        row = {"k": k, "draws": part[["fold", "repeat"]].drop_duplicates().shape[0], "held_out_scans": len(part)}
        row |= {f"mse_{p}": part[f"mse_{p}"].mean() for p in PREDICTORS}
        for baseline in ("popmean", "t1wreg"):
            for kind, column in (("", "mse"), ("pattern_", "mse_fitted")):
                # repeats of one participant are that participant's scans in the bootstrap
                model, base = part[f"{column}_model"], part[f"{column}_{baseline}"]
                low, high = skill_interval(part["subject"], model, base)
                row[f"{kind}skill_vs_{baseline}"] = skill(model, base)
                row[f"{kind}skill_vs_{baseline}_low"], row[f"{kind}skill_vs_{baseline}_high"] = low, high
        rows.append(row)
    return pd.DataFrame(rows)


def print_summary(summary: pd.DataFrame) -> None:
    print("\nheld-out scans of every fold, model grid, each inside its own brain; 95 % interval over participants")
    header = ("skill over the mean", "over the T1w regression", "pattern alone: over the mean", "over the regression")
    print(
        (
            f"{'k':>3} {'scans':>5}  {'MSE model':>9} {'mean':>8} {'T1w reg':>8}   "
            + "".join(f"{h:<29}" for h in header)
        ).rstrip()
    )
    for row in summary.itertuples():
        cells = []
        for column in ("skill_vs_popmean", "skill_vs_t1wreg", "pattern_skill_vs_popmean", "pattern_skill_vs_t1wreg"):
            value, low, high = (getattr(row, column + suffix) for suffix in ("", "_low", "_high"))
            cells.append(f"{value:6.3f} ({low:6.3f} to {high:6.3f})".ljust(29))
        print(
            f"{row.k:>3} {row.held_out_scans:>5}  {row.mse_model:9.5f} {row.mse_popmean:8.5f} {row.mse_t1wreg:8.5f}   "
            + "".join(cells).rstrip()
        )


def draw_figure(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 3.6), dpi=150)
    for baseline, label, colour in (
        ("popmean", "population mean", "tab:blue"),
        ("t1wreg", "T1w regression", "tab:orange"),
    ):
        value = summary[f"skill_vs_{baseline}"]
        errors = [value - summary[f"skill_vs_{baseline}_low"], summary[f"skill_vs_{baseline}_high"] - value]
        axis.errorbar(summary["k"], value, yerr=errors, marker="o", capsize=3, color=colour, label=f"over the {label}")
    axis.axhline(0, color="grey", lw=0.8)
    axis.set_xscale("log", base=2)
    axis.set_xticks(summary["k"], [str(k) for k in summary["k"]])
    axis.set_xlabel("training participants")
    axis.set_ylabel("model skill on held-out scans")
    axis.set_title("Learning curve (synthetic cohort, demo model and grid)", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    print(f"figure: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path)
    parser.add_argument("--config", nargs="+", required=True, help="the config files of the run")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 30])
    parser.add_argument("--repeats", type=int, default=1, help="draws per fold and size")
    parser.add_argument("--folds", type=int, nargs="*", help="the folds to hold out (default: every fold)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="trainings at once, one thread each")
    parser.add_argument("--table", type=Path, help="write the per-scan scores here (TSV)")
    parser.add_argument("--figure", type=Path)
    args = parser.parse_args()

    from synthpet.io.config import load_config

    config = load_config(*args.config)
    folds, volumes = load_cohort(args.results)
    chosen = args.folds if args.folds else sorted(folds["fold"].unique())
    tasks = draws(folds, args.sizes, args.repeats, config["seed"], chosen)
    participants = folds["subject"].nunique()
    print(f"{len(folds)} scans of {participants} participants; {len(tasks)} trainings on {args.jobs} processes")
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        parts = list(
            pool.map(partial(run_draw, results=str(args.results), folds=folds, volumes=volumes, config=config), tasks)
        )
    table = pd.concat(parts, ignore_index=True)
    if args.table:
        table.to_csv(args.table, sep="\t", index=False)
    summary = summarize(table)
    print_summary(summary)
    if args.figure:
        draw_figure(summary, args.figure)


if __name__ == "__main__":
    main()
