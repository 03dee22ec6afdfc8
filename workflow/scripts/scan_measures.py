"""Snakemake job: one scan's metrics (synthetic vs true PET, raw and smoothed) and regional means."""

from synthpet.atlas import Atlas
from synthpet.evaluation import IMAGES, PHANTOM_IMAGES, scan_measures, write_tsv
from synthpet.imageio import write_json
from synthpet.logs import job_log

with job_log(snakemake.log[0]):
    i, p = snakemake.input, snakemake.params
    images = {key: i[key] for key in (*IMAGES, *PHANTOM_IMAGES) if key in i.keys()}
    row, regions = scan_measures(images, i.mask, p.voxel_mm, Atlas.load(i.atlas), p.settings, p.seed)
    write_json(row, snakemake.output.metrics)
    write_tsv(regions, snakemake.output.regions)
