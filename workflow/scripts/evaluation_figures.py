"""Snakemake job: the paper's figures 2 to 7 from the evaluation tables."""

from synthpet.evaluate.figures import draw_figures
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    draw_figures(dict(snakemake.input), dict(snakemake.output), p.voxel_mm, p.folds, p.example, p.alpha)
