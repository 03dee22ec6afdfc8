"""Snakemake job: one scan's metrics (synthetic vs true PET, raw and smoothed) and regional means."""

from synthpet.evaluate.atlas import Atlas
from synthpet.evaluate.measures import scan_measures
from synthpet.evaluate.statistics import write_tsv
from synthpet.io.imageio import write_json
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    images = {key: path for key, path in i.items() if key not in ("mask", "atlas")}
    row, regions = scan_measures(images, i.mask, p.voxel_mm, Atlas.load(i.atlas), p.settings, p.seed)
    write_json(row, snakemake.output.metrics)
    write_tsv(regions, snakemake.output.regions)
