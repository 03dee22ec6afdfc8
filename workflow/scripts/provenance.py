"""Snakemake job: the config, seed, versions and git commit that produced this results folder."""

from pathlib import Path

from synthpet.io.imageio import write_json
from synthpet.io.provenance import record
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    # the workflow's own folder (not a param: moving the checkout must not make results stale)
    workflow_dir = Path(snakemake.scriptdir).parents[1]
    dataset_dir = Path(snakemake.input.dataset).parent  # the folder of its dataset_description.json
    write_json(record(snakemake.params.config, workflow_dir, dataset_dir), snakemake.output[0])
