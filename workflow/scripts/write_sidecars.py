"""Snakemake job: the BIDS JSON sidecar of each derivative image of one scan."""

from synthpet.derivatives import write_sidecars
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_sidecars(dict(snakemake.input.items()), dict(snakemake.output.items()), p.raw, p.fold, p.suvr_reference)
