"""Snakemake job: one scan's normalized T1w, PET and mask on the model grid."""

from synthpet.logs import job_log
from synthpet.preprocess import to_model_grid

with job_log(snakemake.log[0]):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    to_model_grid(i.t1w, i.mask, i.xfm, i.pet, o.t1w, o.pet, o.mask, p.settings, p.scan)
