"""Snakemake job: the synthetic dataset's description, participants table and planted effects."""

from synthpet import phantom
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    params = snakemake.params
    participants = phantom.cohort_layout(params.phantom, params.seed)
    phantom.write_dataset_files(params.root, participants, params.phantom, params.seed)
