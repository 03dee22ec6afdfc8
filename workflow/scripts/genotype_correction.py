"""Snakemake job: fit the genotype effect for one fold and correct every scan's PET with it."""

from synthpet.learn.folds import read_folds
from synthpet.learn.genotype import correct_fold
from synthpet.logs import job_log

with job_log(snakemake.log[0]) as log:
    p = snakemake.params
    folds = read_folds(snakemake.input.folds)
    folds = folds.set_index("scan").loc[p.scans].reset_index()
    summary = correct_fold(
        int(snakemake.wildcards.fold),
        folds,
        dict(zip(p.scans, p.genotypes, strict=True)),
        snakemake.input.pet,
        snakemake.input.mask,
        p.scope,
        snakemake.output.model,
        snakemake.output.summary,
        snakemake.output.pet,
        p.method,
    )
    log.info("genotype effect: %s", summary)
