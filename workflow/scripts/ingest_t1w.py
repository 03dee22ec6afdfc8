"""Snakemake job: check a raw T1w and write it in canonical form."""

from synthpet.logs import job_log
from synthpet.preprocess.ingest import ingest_t1w

with job_log(snakemake.log[0]):
    ingest_t1w(snakemake.input.image, snakemake.output.t1w)
