"""Snakemake job: every table of the report (evaluation TSVs, provenance) as an HTML page, with its
title and caption in plain view."""

from pathlib import Path

from synthpet.io.imageio import read_text, write_text
from synthpet.logs import job_log
from synthpet.report.captions import caption_text
from synthpet.report.report_tables import file_html

CAPTIONS = Path(snakemake.scriptdir).parent / "report"

with job_log(snakemake.log[0]):
    for key, source in snakemake.input.items():
        caption = caption_text(read_text(CAPTIONS / f"{snakemake.params.captions[key]}.rst", "report caption"), {})
        write_text(file_html(source, caption), snakemake.output[key])
