"""Snakemake job: the BIDS JSON sidecar of each derivative image of every scan."""

from synthpet.io.derivatives import write_sidecars
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_sidecars(p.images, snakemake.output.manifest, p.suvr_reference, p.pet_scale)
