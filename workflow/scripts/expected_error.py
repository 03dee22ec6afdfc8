"""Snakemake job: every scan's expected-error map (the other folds' held-out errors) and how well it holds."""

from synthpet.expected_error import write_expected_errors
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    inputs = {key: list(snakemake.input[key]) for key in ("pet", "synthetic", "mask")}
    write_expected_errors(inputs, list(snakemake.output.maps), snakemake.output.table, p.scans, p.folds, p.voxel_mm)
