"""Snakemake job: the config, seed, versions and git commit that produced this results folder."""

from pathlib import Path

from synthpet.io.imageio import write_json
from synthpet.io.provenance import record
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    # the workflow's own folder (not a param: moving the checkout must not make results stale)
    workflow_dir = Path(snakemake.scriptdir).parents[1]
    write_json(record(snakemake.params.config, workflow_dir, snakemake.params.dataset), snakemake.output[0])
