"""Snakemake job: check a raw PET and write its SUV image in canonical form."""

from synthpet.ingest import ingest_pet
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    ingest_pet(snakemake.input.image, snakemake.input.sidecars, snakemake.params.suv_window_min, snakemake.output.suv)
