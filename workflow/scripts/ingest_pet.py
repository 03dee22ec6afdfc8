"""Snakemake job: check a raw PET and write its SUV image in canonical form."""

from synthpet.logs import job_log
from synthpet.preprocess.ingest import ingest_pet

with job_log(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    ingest_pet(i.image, i.sidecars, p.suv_window_min, snakemake.output.suv, p.weight_kg)
