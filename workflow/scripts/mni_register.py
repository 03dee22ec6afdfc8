"""Snakemake job: one scan's brain-extracted T1w registered to MNI space (affine then SyN), with a QC figure."""

import os

from synthpet.evaluate import mni
from synthpet.logs import job_log

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]):
    o, p = snakemake.output, snakemake.params
    mni.register(
        snakemake.input.brain,
        p.voxel_mm,
        o.warp,
        o.affine,
        o.t1w,
        seed=p.seed,
        work_voxel_mm=p.work_voxel_mm,
        to_mni152=snakemake.input.xfm,
        inverse_warp_out=o.inverse_warp,
        qc_out=o.qc,
        scan=p.scan,
    )
