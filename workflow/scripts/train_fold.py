"""Snakemake job: train one fold (resuming from its checkpoint when one exists).

The checkpoint lives only while the fold is unfinished: once the outputs are written it is removed,
so a rerun that Snakemake decides on (a changed input, --forcerun) trains again instead of
resuming a finished training."""

import logging
from pathlib import Path

import pandas as pd
import torch

from synthpet.learn.training import TrainConfig, load_volumes, train_fold, write_fold_artefacts
from synthpet.logs import PROGRESS, job_log

with job_log(snakemake.log[0]) as log:
    p, i, o = snakemake.params, snakemake.input, snakemake.output
    torch.set_num_threads(snakemake.threads)
    fold = int(snakemake.wildcards.fold)
    folds = pd.read_csv(i.folds, sep="\t", dtype={"subject": str, "session": str}).set_index("scan")
    held_out = [folds.loc[scan, "fold"] == fold for scan in p.scans]

    def pick(paths, keep):
        return [path for path, k in zip(paths, keep, strict=True) if k]

    train_mask = [not h for h in held_out]
    train = load_volumes(pick(i.t1w, train_mask), pick(i.pet, train_mask), pick(i.mask, train_mask))
    test = load_volumes(pick(i.t1w, held_out), pick(i.pet, held_out), pick(i.mask, held_out))
    config = TrainConfig.from_config({"training": p.training, "model": p.model, "seed": p.seed})
    # each epoch's line also goes to the console, to watch training without opening the log
    progress = logging.getLogger(PROGRESS).info
    model, history, facts = train_fold(train, test, config, fold, Path(p.checkpoint), log=progress)
    scans = {"train": pick(p.scans, train_mask), "held_out": pick(p.scans, held_out)}
    write_fold_artefacts(
        model, history, facts, config, fold, scans, dict(o), preprocess=p.preprocess, trained_on=p.input_source
    )
    Path(p.checkpoint).unlink(missing_ok=True)
    log.info(f"fold {fold}: outputs written; checkpoint removed")
