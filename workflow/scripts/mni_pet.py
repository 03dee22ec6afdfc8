"""Snakemake job: one scan's true and synthetic PET from the model grid to MNI space, the true PET
smoothed, and both as SUVR (evaluation.suvr_reference)."""

import os

from synthpet.evaluate.measures import warp_pet
from synthpet.evaluate.suvr import write_scan_suvr
from synthpet.logs import job_log

os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = str(snakemake.threads)
with job_log(snakemake.log[0]) as log:
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    warp_pet(dict(i), dict(o), p.voxel_mm, p.fwhm_mm)
    voxels = write_scan_suvr(
        {"synthetic": o.synthetic, "pet": o.pet},
        i.mask,
        i.atlas,
        p.suvr_reference,
        {"synthetic": o.suvr_synthetic, "pet": o.suvr_pet},
    )
    log.info(f"SUVR reference: {', '.join(p.suvr_reference) or 'whole brain'} ({voxels} voxels)")
