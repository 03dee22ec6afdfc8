"""Snakemake job: the synthetic dataset's description, participants table and planted effects."""

from pathlib import Path

from synthpet.logs import job_log
from synthpet.validation import phantom

with job_log(snakemake.log[0]):
    params = snakemake.params
    participants = phantom.cohort_layout(params.phantom, params.seed)
    root = Path(snakemake.output.description).parent
    phantom.write_dataset_files(root, participants, params.phantom, params.seed)
