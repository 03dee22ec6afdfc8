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
h1 { font-size: 18px; margin: 0 0 0.3em; }
p.caption { max-width: 60em; white-space: normal; margin: 0 0 0.4em; }
p.source { color: #666; margin: 0 0 0.8em; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return "n/a" if pd.isna(value) else f"{value:.4g}"
    return html.escape(str(value))


def table_title(caption: str, name: str) -> str:
    """A table's title: its caption's first clause when short ("Table 4 of the paper"), else its name."""
    first = caption.replace("``", "").split(":")[0].split(". ")[0].strip()
    return first if 0 < len(first) <= 90 else name.replace("_", " ").capitalize()


def table_html(table: pd.DataFrame, title: str, caption: str = "", source: str = "") -> str:
    """One HTML page holding ``table``: its title and caption in plain view, then a header row and one
    row per table row, nothing dropped."""
    kinds = ["num" if pd.api.types.is_numeric_dtype(table[c]) else "text" for c in table.columns]
    head = "".join(f'<th class="{k}">{html.escape(str(c))}</th>' for k, c in zip(kinds, table.columns, strict=True))
    rows = "\n".join(
        "<tr>" + "".join(f'<td class="{kind}">{_cell(v)}</td>' for kind, v in zip(kinds, row, strict=True)) + "</tr>"
        for row in table.itertuples(index=False)
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
        + (f'<p class="caption">{html.escape(caption)}</p>\n' if caption else "")
        + (f'<p class="source">{html.escape(source)}</p>\n' if source else "")
        + "<table>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table>\n</body></html>\n"
    )


def flatten(record, prefix: str = "") -> list[tuple[str, str]]:
    """A nested JSON record as (dotted key, value) rows."""
    if isinstance(record, dict) and record:
        return [row for key, value in record.items() for row in flatten(value, f"{prefix}{key}.")]
    if isinstance(record, list) and record and any(isinstance(item, dict | list) for item in record):
        return [row for i, value in enumerate(record) for row in flatten(value, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), json.dumps(record) if not isinstance(record, str) else record)]


def file_html(path: str | Path, caption: str = "") -> str:
    """A TSV table, or a JSON record as key-value rows, as an HTML page titled from its ``caption``
    (plain text), which it shows above the table, with the file's name."""
    path = Path(path)
    if path.suffix == ".json":
        table = pd.DataFrame(flatten(json.loads(path.read_text())), columns=["key", "value"])
    else:
        table = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=["n/a", "NaN", "nan", ""])
    return table_html(table, table_title(caption, path.stem), caption, f"from {path.name}")
