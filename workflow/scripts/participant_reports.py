"""Snakemake job: each participant's HTML page (sub-<label>.html), its QC figures, warnings and methods."""

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
    methods = preprocessing_paragraph(p.config, {"antspyx": version("antspyx")})
    captions = {
        name: read_text(CAPTIONS / f"{name}.rst", "caption")
        for page in p.pages
        for scan in page["scans"]
        for _, _, name in scan["figures"]
    }
    for page, html in zip(p.pages, snakemake.output.html, strict=True):
        sections = [
            ScanSection(
                scan["id"],
                [
                    Figure(title, png, caption_text(captions[caption], scan["wildcards"]))
                    for title, png, caption in scan["figures"]
                ],
            )
            for scan in page["scans"]
        ]
        write_text(participant_html(page["subject"], sections, page["notices"], methods), html)
