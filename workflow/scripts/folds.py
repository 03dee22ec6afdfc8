"""Snakemake job: write the cross-validation split (computed once, when the DAG was built)."""

import pandas as pd

from synthpet.io.imageio import write_text
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    folds = pd.DataFrame(snakemake.params.folds)
    write_text(folds.to_csv(sep="\t", index=False, lineterminator="\n"), snakemake.output.folds)
