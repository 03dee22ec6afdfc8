"""Snakemake job: the participant's HTML page (sub-<label>.html), its QC figures, warnings and methods."""

from importlib.metadata import version
from pathlib import Path

from synthpet.io.imageio import read_text, write_text
from synthpet.logs import job_log
from synthpet.report.captions import caption_text
from synthpet.report.methods import preprocessing_paragraph
from synthpet.report.participant import Figure, ScanSection, participant_html

CAPTIONS = Path(snakemake.scriptdir).parent / "report"  # the workflow's report captions

with job_log(snakemake.log[0]):
    p = snakemake.params
    sections = [
        ScanSection(
            scan["id"],
            [
                Figure(title, png, caption_text(read_text(CAPTIONS / f"{caption}.rst", "caption"), scan["wildcards"]))
                for title, png, caption in scan["figures"]
            ],
        )
        for scan in p.scans
    ]
    methods = preprocessing_paragraph(p.config, {"antspyx": version("antspyx")})
    write_text(participant_html(snakemake.wildcards.subject, sections, p.notices, methods), snakemake.output.html)
