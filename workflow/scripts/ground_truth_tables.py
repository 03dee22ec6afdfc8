"""Snakemake job (synthetic cohort): errors against the noise-free PET, and whether planted effects survive."""

import pandas as pd

from synthpet.evaluate.statistics import write_tsv
from synthpet.logs import job_log
from synthpet.validation.truth import ground_truth_table, planted_effects

with job_log(snakemake.log[0]):
    p = snakemake.params
    write_tsv(ground_truth_table(pd.read_csv(snakemake.input.scan_metrics, sep="\t")), snakemake.output.errors)
    regions = pd.read_csv(snakemake.input.regions, sep="\t")
    write_tsv(planted_effects(regions, p.group_effects, p.control, p.hab_over_mab), snakemake.output.effects)
