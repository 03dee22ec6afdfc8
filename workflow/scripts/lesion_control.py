"""Snakemake job (synthetic cohort): the positive control, lesion by lesion, and its figure."""

from synthpet.logs import job_log
from synthpet.validation.lesions import write_lesion_control

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_lesion_control(dict(snakemake.input), dict(snakemake.output), p.scans, p.example)
