"""Tables for the HTML report: each TSV (and provenance.json) as a readable HTML page.

Snakemake's report offers a TSV or JSON file for download only; an HTML file it shows in place.
Numbers are rounded to 4 significant digits for reading (the TSV keeps every digit), and 'n/a'
stays as written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; font-size: 13px; margin: 1em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: #f0f0f0; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
caption { text-align: left; font-weight: bold; margin-bottom: 0.5em; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return "n/a" if pd.isna(value) else f"{value:.4g}"
    return html.escape(str(value))


def table_html(table: pd.DataFrame, title: str) -> str:
    """One HTML page holding ``table``: a header row, then one row per table row, nothing dropped."""
    kinds = ["num" if pd.api.types.is_numeric_dtype(table[c]) else "text" for c in table.columns]
    head = "".join(f'<th class="{k}">{html.escape(str(c))}</th>' for k, c in zip(kinds, table.columns, strict=True))
    rows = "\n".join(
        "<tr>" + "".join(f'<td class="{kind}">{_cell(v)}</td>' for kind, v in zip(kinds, row, strict=True)) + "</tr>"
        for row in table.itertuples(index=False)
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n<table><caption>{html.escape(title)}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n</body></html>\n"
    )


def flatten(record, prefix: str = "") -> list[tuple[str, str]]:
    """A nested JSON record as (dotted key, value) rows."""
    if isinstance(record, dict) and record:
        return [row for key, value in record.items() for row in flatten(value, f"{prefix}{key}.")]
    if isinstance(record, list) and record and any(isinstance(item, dict | list) for item in record):
        return [row for i, value in enumerate(record) for row in flatten(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), json.dumps(record) if not isinstance(record, str) else record)]


def file_html(path: str | Path) -> str:
    """A TSV table, or a JSON record as key-value rows, as an HTML page named after the file."""
    path = Path(path)
    if path.suffix == ".json":
        table = pd.DataFrame(flatten(json.loads(path.read_text())), columns=["key", "value"])
    else:
        table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a", "NaN", "nan", ""])
    return table_html(table, path.name)
