"""Snakemake job (synthetic cohort): every scan's noise-free PET and its anatomical part, on its
normalized scale, in MNI space."""

import os

from synthpet.logs import job_log
from synthpet.preprocess.settings import PetScale
from synthpet.validation.truth import warp_noisefree_all

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    p = snakemake.params
    warp_noisefree_all(
        dict(snakemake.input), dict(snakemake.output), p.voxel_mm, p.genotypes, PetScale.from_config(p.scale)
    )
