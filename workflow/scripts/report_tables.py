"""Snakemake job: every table of the report (evaluation TSVs, provenance) as an HTML page."""

from synthpet.io.imageio import write_text
from synthpet.logs import job_log
from synthpet.report.report_tables import file_html

with job_log(snakemake.log[0]):
    for key, source in snakemake.input.items():
        write_text(file_html(source), snakemake.output[key])
