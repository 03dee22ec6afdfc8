"""Snakemake job: one scan's T1w, measured, synthetic and smoothed PET side by side, and where the synthetic
PET misses (the report section of the scan)."""

import nibabel as nib
import numpy as np

from synthpet.figures import example_slices
from synthpet.logs import job_log
from synthpet.measures import IMAGES

with job_log(snakemake.log[0]):
    i = snakemake.input
    volumes = {key: np.asarray(nib.load(i[key]).dataobj, np.float32) for key in (*IMAGES, "expected_error")}
    brain = np.asarray(nib.load(i.mask).dataobj) > 0
    example_slices(volumes, brain, snakemake.params.title, snakemake.output[0], with_error=True)
