"""Benchmark: wall time of the paper's training protocol (every fold, every epoch) on one device.

    python tests/benchmarks/bench_protocol.py RESULTS_DIR [--config config/phantom-paper.yaml]
    python tests/benchmarks/bench_protocol.py --random [--scans 204] [--folds 5] [--epochs 50]

With RESULTS_DIR (a workflow output folder where preprocessing and the genotype regression have
run, e.g. results/phantom-paper after `snakemake --configfile config/phantom-paper.yaml --until
genotype_correction`), each fold's training and held-out volumes are read from the workflow's own
files, as `train_fold` reads them. With --random, random volumes of the grid's shape stand in,
split into folds of the protocol's sizes (204 scans in 5 folds: about 163 training and 41 held-out
each). Folds train one after the other with the config's training and model settings (the
paper's by default). Printed: each fold's seconds and the total, and the speed levers used.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from synthpet.io.config import load_config
from synthpet.learn.training import FoldData, TrainConfig, load_volumes, train_fold

REPO = Path(__file__).resolve().parents[2]


def workflow_folds(results: Path) -> list[tuple[FoldData, FoldData]]:
    folds = pd.read_csv(results / "cohort" / "folds.tsv", sep="\t", dtype=str)
    out = []
    for fold in sorted(folds["fold"].unique(), key=int):

        def volumes(part: pd.DataFrame, fold: str = fold) -> FoldData:
            anat = [
                results / "preproc" / f"sub-{r.subject}" / f"ses-{r.session}" / "anat" / r.scan
                for r in part.itertuples()
            ]
            return load_volumes(
                [f"{a}_space-grid_desc-norm_T1w.nii.gz" for a in anat],
                [
                    results / "folds" / f"fold-{fold}" / "pet" / f"{s}_space-grid_desc-genocorr_pet.nii.gz"
                    for s in part["scan"]
                ],
                [f"{a}_space-grid_desc-brain_mask.nii.gz" for a in anat],
            )

        out.append((volumes(folds[folds["fold"] != fold]), volumes(folds[folds["fold"] == fold])))
    return out


def random_folds(scans: int, n_folds: int, shape) -> list[tuple[FoldData, FoldData]]:
    generator = torch.Generator().manual_seed(0)
    every = FoldData(
        *(torch.rand((scans, 1, *shape), generator=generator) for _ in range(2)), torch.ones((scans, 1, *shape))
    )
    fold_of = torch.arange(scans) % n_folds
    return [
        (
            FoldData(every.inputs[fold_of != f], every.targets[fold_of != f], every.masks[fold_of != f]),
            FoldData(every.inputs[fold_of == f], every.targets[fold_of == f], every.masks[fold_of == f]),
        )
        for f in range(n_folds)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", type=Path)
    parser.add_argument("--config", default=str(REPO / "config" / "phantom-paper.yaml"))
    parser.add_argument("--random", action="store_true")
    parser.add_argument("--scans", type=int, default=204)
    parser.add_argument("--folds", type=int, default=None, help="default: the config's n_folds")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's epochs")
    args = parser.parse_args()
    if not args.random and args.results is None:
        parser.error("give a RESULTS_DIR or --random")
    config = load_config(args.config)
    if args.epochs:
        config["training"]["epochs"] = args.epochs
    settings = TrainConfig.from_config(config)
    n_folds = args.folds or config["folds"]["n_folds"]
    if args.random:
        folds = random_folds(args.scans, n_folds, tuple(config["preprocess"]["grid_shape"]))
    else:
        folds = workflow_folds(args.results)[:n_folds]
    started = time.perf_counter()
    for fold, (train, held_out) in enumerate(folds):
        with tempfile.TemporaryDirectory() as tmp:
            _, history, facts = train_fold(train, held_out, settings, fold, Path(tmp) / "c.pt", log=lambda _: None)
        print(
            f"fold {fold}: {len(train)} training, {len(held_out)} held-out scans, {settings.epochs} epochs: "
            f"{facts['seconds_this_run']:.1f} s on {facts['device_name']} ({facts['speed_levers']}); "
            f"training {history[-1]['train_volumes_per_s']:.1f} volumes/s in the last epoch"
        )
    print(f"protocol ({len(folds)} folds x {settings.epochs} epochs): {time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
