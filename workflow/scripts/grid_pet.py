"""Snakemake job: one scan's coregistered PET on its model grid, scaled to [0, 1] in the brain
(preprocess.pet_scale)."""

from synthpet.logs import job_log
from synthpet.preprocess.settings import PetScale
from synthpet.preprocess.steps import grid_pet

with job_log(snakemake.log[0]):
    i = snakemake.input
    grid_pet(i.pet, i.mask, snakemake.output.pet, PetScale.from_config(snakemake.params.scale))
