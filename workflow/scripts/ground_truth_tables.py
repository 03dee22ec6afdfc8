"""Snakemake job (synthetic cohort): the method's outputs scored against the truth: its tables with the
ceilings, errors against the noise-free PET, and whether planted effects survive."""

from synthpet.logs import job_log
from synthpet.validation.truth import write_truth_tables

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_truth_tables(
        dict(snakemake.input),
        dict(snakemake.output),
        voxel_mm=p.voxel_mm,
        settings=p.settings,
        seed=p.seed,
        group_effects=p.group_effects,
        control=p.control,
        hab_over_mab=p.hab_over_mab,
    )
