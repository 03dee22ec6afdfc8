"""Snakemake job: brain mask and brain-extracted T1w of one scan."""

import os

from synthpet.logs import job_log
from synthpet.preprocess.settings import MaskSettings
from synthpet.preprocess.steps import brain_mask

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    p = snakemake.params
    brain_mask(
        snakemake.input.t1w,
        snakemake.output.mask,
        snakemake.output.brain,
        snakemake.output.xfm,
        p.backend,
        MaskSettings.from_config(p.settings),
        p.seed,
        p.scan,
        p.qc_failed,
    )
