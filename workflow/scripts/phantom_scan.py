"""Snakemake job: one synthetic scan (T1w, PET, sidecars) and its ground truth."""

from pathlib import Path

from synthpet.logs import job_log
from synthpet.validation import phantom

with job_log(snakemake.log[0]) as log:
    params, wildcards = snakemake.params, snakemake.wildcards
    participant = next(p for p in phantom.cohort_layout(params.phantom, params.seed) if p.subject == wildcards.subject)
    reference = phantom.Reference.load(snakemake.input.reference)
    root = Path(snakemake.output.t1w).parents[3]  # <root>/sub-X/ses-Y/anat/<file>
    truth = phantom.make_scan(
        reference, participant, wildcards.session, params.phantom, params.seed, tuple(params.suv_window_min), root
    )
    log.info("wrote %s (%s, %s, dynamic=%s)", truth["scan"], truth["group"], truth["genotype"], truth["dynamic"])
