"""Snakemake job: one scan's normalized T1w and grid brain mask from the model grid to MNI space."""

import os

from synthpet.evaluate.measures import warp_anatomy
from synthpet.logs import job_log

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    warp_anatomy(dict(snakemake.input), dict(snakemake.output), snakemake.params.voxel_mm)
