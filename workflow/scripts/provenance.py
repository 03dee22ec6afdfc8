"""Snakemake job: the config, seed, versions and git commit that produced this results folder."""

from synthpet.imageio import write_json
from synthpet.logs import job_log
from synthpet.provenance import record

with job_log(snakemake.log[0]):
    write_json(record(snakemake.params.config, snakemake.params.workflow_dir), snakemake.output[0])
