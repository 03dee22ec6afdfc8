"""Snakemake job: PET-to-T1w rigid coregistration of one scan, its PET in T1w space and its QC figure."""

import os

from synthpet.logs import job_log
from synthpet.preprocess.settings import CoregSettings
from synthpet.preprocess.steps import coregistration

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    settings = CoregSettings.from_config(p.settings)
    coregistration(
        i.t1w, i.suv, i.mask, o.matrix, o.pet, p.backend, settings, p.seed, p.scan, p.qc_failed, o.qc, o.pet_whole
    )
