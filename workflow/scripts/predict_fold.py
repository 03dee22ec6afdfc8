"""Snakemake job: one scan's synthetic PET from the fold model that never saw it."""

from synthpet.learn.inference import predict_scan
from synthpet.logs import job_log

with job_log(snakemake.log[0]) as log:
    i, o = snakemake.input, snakemake.output
    log.info("predicting %s with %s", i.t1w, i.weights)
    predict_scan(i.weights, snakemake.params.model, i.t1w, i.mask, i.native, o.grid, o.native, snakemake.params.device)
