"""Snakemake job: coregistration error and brain-mask Dice of every scan against the phantom's truth."""

from synthpet.io.imageio import write_text
from synthpet.logs import job_log
from synthpet.validation.truth import accuracy_against_truth

with job_log(snakemake.log[0]) as log:
    i = snakemake.input
    table = accuracy_against_truth(snakemake.params.scans, i.matrices, i.masks, i.truths, i.truth_masks)
    write_text(table.to_csv(sep="\t", index=False, lineterminator="\n"), snakemake.output[0])
    log.info("\n%s", table.describe().to_string())
