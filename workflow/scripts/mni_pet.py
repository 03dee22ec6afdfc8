"""Snakemake job: one scan's true and synthetic PET from the model grid to MNI space."""

import os

from synthpet.logs import job_log
from synthpet.measures import warp_pet

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    warp_pet(dict(snakemake.input), dict(snakemake.output), snakemake.params.voxel_mm, snakemake.params.fwhm_mm)
