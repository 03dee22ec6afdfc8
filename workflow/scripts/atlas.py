"""Snakemake job: the atlas regions on the MNI output grid, computed once for every scan's measures."""

from synthpet.evaluate import atlas
from synthpet.logs import job_log

with job_log(snakemake.log[0]) as log:
    regions = atlas.build(snakemake.params.atlas, snakemake.params.voxel_mm)
    log.info("%d regions", len(regions.names))
    regions.save(snakemake.output[0])
