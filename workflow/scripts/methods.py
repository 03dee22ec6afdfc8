"""Snakemake job: the methods paragraph of this run (markdown, and HTML for the report)."""

from synthpet.io.imageio import read_json, write_text
from synthpet.learn.folds import read_folds
from synthpet.logs import job_log
from synthpet.report.methods import methods_html, methods_text

with job_log(snakemake.log[0]):
    i, o = snakemake.input, snakemake.output
    provenance = read_json(i.provenance, "provenance record")
    summary = read_json(i.summary, "fold summary")
    folds = read_folds(i.folds)
    text = methods_text(provenance["config"], provenance, folds, summary["facts"]["parameters"])
    write_text(text, o.markdown)
    write_text(methods_html(text), o.html)
