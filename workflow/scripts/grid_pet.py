"""Snakemake job: one scan's coregistered PET on its model grid, scaled to [0, 1] in the brain
(preprocess.pet_scale)."""

from synthpet.logs import job_log
from synthpet.preprocess.steps import grid_pet, pet_scale_settings

with job_log(snakemake.log[0]):
    grid_pet(
        snakemake.input.pet, snakemake.input.mask, snakemake.output.pet, *pet_scale_settings(snakemake.params.scale)
    )
