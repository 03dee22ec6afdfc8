"""Snakemake job: one scan's coregistered PET on its model grid, normalized to [0, 1] in the brain."""

from synthpet.logs import job_log
from synthpet.preprocess import grid_pet

with job_log(snakemake.log[0]):
    grid_pet(snakemake.input.pet, snakemake.input.mask, snakemake.output.pet)
