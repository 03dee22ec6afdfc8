"""Snakemake job: a scan's synthetic and measured PET in MNI space as SUVR (evaluation.suvr_reference)."""

from synthpet.logs import job_log
from synthpet.suvr import write_scan_suvr

with job_log(snakemake.log[0]) as log:
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    voxels = write_scan_suvr(
        {"synthetic": i.synthetic, "pet": i.pet}, i.mask, i.atlas, p.reference, {"synthetic": o.synthetic, "pet": o.pet}
    )
    log.info(f"reference: {', '.join(p.reference) or 'whole brain'} ({voxels} voxels)")
