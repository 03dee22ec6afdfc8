"""Snakemake job: check a raw T1w and write it in canonical form."""

from synthpet.ingest import ingest_t1w
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    ingest_t1w(snakemake.input.image, snakemake.output.t1w)
