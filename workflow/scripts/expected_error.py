"""Snakemake job: every scan's expected-error map (the other folds' held-out errors), how well it
holds, and each scan's prediction QC figure (T1w, measured, synthetic and smoothed PET, where the
synthetic PET misses and where it was expected to)."""

import nibabel as nib
import numpy as np

from synthpet.evaluate.expected_error import write_expected_errors
from synthpet.evaluate.figures import example_slices
from synthpet.evaluate.measures import IMAGES
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    inputs = {key: list(i[key]) for key in ("pet", "synthetic", "mask")}
    write_expected_errors(inputs, list(o.maps), o.table, p.scans, p.folds, p.voxel_mm)
    for n, (scan, fold, figure) in enumerate(zip(p.scans, p.folds, o.qc, strict=True)):
        title = f"{scan}: out-of-fold prediction of the fold-{fold} model (MNI space)"
        volumes = {key: np.asarray(nib.load(i[key][n]).dataobj, np.float32) for key in IMAGES}
        volumes["expected_error"] = np.asarray(nib.load(o.maps[n]).dataobj, np.float32)
        mask = nib.load(i.mask[n])
        # a QC figure (a screen's PNG, no vector twin), with the MNI coordinates of its slices
        example_slices(
            volumes, np.asarray(mask.dataobj) > 0, title, figure, with_error=True, affine=mask.affine, publication=False
        )
