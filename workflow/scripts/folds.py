"""Snakemake job: the cross-validation split, computed once and read by every later stage."""

import pandas as pd

from synthpet.folds import make_folds
from synthpet.imageio import write_text
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    folds = make_folds(pd.DataFrame(p.scans), p.n_folds, p.seed)
    write_text(folds.to_csv(sep="\t", index=False, lineterminator="\n"), snakemake.output.folds)
