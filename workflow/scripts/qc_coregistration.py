"""Snakemake job: QC figure of one scan's coregistered PET and brain mask over its T1w."""

from synthpet.logs import job_log
from synthpet.preprocess import qc_overlay

with job_log(snakemake.log[0]):
    i = snakemake.input
    qc_overlay(i.t1w, i.mask, i.pet, snakemake.output[0], snakemake.params.scan)
