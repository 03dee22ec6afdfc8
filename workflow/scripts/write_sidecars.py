"""Snakemake job: the BIDS JSON sidecar of each derivative image of every scan."""

from synthpet.derivatives import write_sidecars
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    write_sidecars(snakemake.params.images, snakemake.params.suvr_reference)
