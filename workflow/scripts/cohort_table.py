"""Snakemake job: the table of scans the workflow processes, and of those it excluded and why."""

import pandas as pd

from synthpet.io.imageio import write_text
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    scans = pd.DataFrame(snakemake.params.scans)
    write_text(scans.to_csv(sep="\t", index=False, lineterminator="\n"), snakemake.output.scans)
    excluded = pd.DataFrame(sorted(snakemake.params.excluded.items()), columns=["scan", "reason"])
    write_text(excluded.to_csv(sep="\t", index=False, lineterminator="\n"), snakemake.output.excluded)
