"""Report captions (Snakemake's reStructuredText with Jinja2 wildcards) as plain text, for the pages
that synthpet writes itself: each participant's page, and the report's table pages."""

from __future__ import annotations

from types import SimpleNamespace


def caption_text(template: str, wildcards: dict[str, str]) -> str:
    """A report caption (Snakemake's reStructuredText with Jinja2 wildcards) as plain text for one scan."""
    import jinja2

    rendered = jinja2.Template(template).render(snakemake=SimpleNamespace(wildcards=SimpleNamespace(**wildcards)))
    return " ".join(rendered.replace("``", "").split())
