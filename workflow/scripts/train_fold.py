"""Snakemake job: train one fold (resuming from its checkpoint when one exists).

The checkpoint lives only while the fold is unfinished: once the outputs are written it is removed,
so a rerun that Snakemake decides on (a changed input, --forcerun) trains again instead of
resuming a finished training."""

import logging
from pathlib import Path

import torch

from synthpet.learn.folds import read_folds, split
from synthpet.learn.training import TrainConfig, load_volumes, train_fold, write_fold_artefacts
from synthpet.logs import PROGRESS, job_log

with job_log(snakemake.log[0]) as log:
    p, i, o = snakemake.params, snakemake.input, snakemake.output
    torch.set_num_threads(snakemake.threads)
    fold = int(snakemake.wildcards.fold)
    train, held_out = split(read_folds(i.folds), p.scans, fold)

    def pick(paths, rows):
        return [paths[n] for n in rows]

    train_data, test_data = (
        load_volumes(pick(i.t1w, rows), pick(i.pet, rows), pick(i.mask, rows)) for rows in (train, held_out)
    )
    config = TrainConfig.from_config({"training": p.training, "model": p.model, "seed": p.seed})
    # each epoch's line also goes to the console, to watch training without opening the log
    progress = logging.getLogger(PROGRESS).info
    model, history, facts = train_fold(train_data, test_data, config, fold, Path(p.checkpoint), log=progress)
    scans = {"train": pick(p.scans, train), "held_out": pick(p.scans, held_out)}
    write_fold_artefacts(
        model, history, facts, config, fold, scans, dict(o), preprocess=p.preprocess, trained_on=p.input_source
    )
    Path(p.checkpoint).unlink(missing_ok=True)
    log.info(f"fold {fold}: outputs written; checkpoint removed")
