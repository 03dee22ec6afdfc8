"""Snakemake job: the MNI-space reference maps shared by every synthetic scan."""

from synthpet.logs import job_log
from synthpet.validation.phantom import build_reference

with job_log(snakemake.log[0]):
    build_reference(snakemake.params.resolution).save(snakemake.output[0])
