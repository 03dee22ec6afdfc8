"""Snakemake job: one scan's normalized T1w and brain mask on its model grid."""

from synthpet.logs import job_log
from synthpet.preprocess.settings import GridSettings
from synthpet.preprocess.steps import grid_t1w

with job_log(snakemake.log[0]):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    grid_t1w(i.t1w, i.mask, i.xfm, o.t1w, o.mask, GridSettings.from_config(p.settings), p.scan)
