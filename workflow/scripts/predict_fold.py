"""Snakemake job: a fold's held-out scans, each given its synthetic PET by the fold model that never saw it."""

from synthpet.learn.inference import predict_held_out
from synthpet.logs import job_log

with job_log(snakemake.log[0]) as log:
    i, o = snakemake.input, snakemake.output
    log.info("predicting %d held-out scans with %s", len(o.grid), i.weights)
    scans = [
        {"t1w": t1w, "mask": mask, "native": native, "out_grid": grid, "out_native": out_native}
        for t1w, mask, native, grid, out_native in zip(i.t1w, i.mask, i.native, o.grid, o.native, strict=True)
    ]
    predict_held_out(i.weights, snakemake.params.model, scans, snakemake.params.device)
    for scan in scans:
        log.info("%s -> %s", scan["t1w"], scan["out_native"])
