"""Snakemake job: the paper's tables 2 to 5, regional correlations and group comparisons, over all scans."""

from synthpet.evaluation import write_tables
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    write_tables(dict(snakemake.input), dict(snakemake.output), snakemake.params.voxel_mm, snakemake.params.min_target)
