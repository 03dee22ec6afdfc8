"""Snakemake job: the paper's tables 2 to 5, regional correlations and group comparisons, over all scans."""

from synthpet.evaluate.statistics import write_tables
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_tables(dict(snakemake.input), dict(snakemake.output), p.voxel_mm, p.min_target, snakemake.threads)
