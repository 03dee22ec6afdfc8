"""One HTML page per participant, as fMRIPrep writes them: every QC figure of the participant's scans
with its caption (what it shows, and what it shows when something is wrong), the participant's
warnings and excluded scans, and the methods of the stages behind the figures. Written at the
participant level, so a user can check each participant before the group level; the group level
adds the prediction figures. The figures are embedded, so the page is one file that can be moved
or mailed.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Figure:
    title: str
    png: str
    caption: str  # plain text


@dataclass
class ScanSection:
    scan: str  # sub-01_ses-01
    figures: list[Figure] = field(default_factory=list)


def notices_about(subject: str, warnings: list[str], excluded: dict[str, str]) -> list[str]:
    """The dataset check's warnings and excluded scans (scan id -> reason) that name ``sub-<subject>``
    (not sub-<subject>0 or sub-<subject>b)."""
    named = re.compile(rf"sub-{re.escape(subject)}(?![0-9A-Za-z])")
    lines = list(warnings) + [f"{scan}: left out: {why}" for scan, why in excluded.items()]
    return [line for line in lines if named.search(line)]


def _image_tag(png: str, title: str) -> str:
    encoded = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{html.escape(title)}">'


def participant_html(subject: str, sections: list[ScanSection], notices: list[str], methods: str) -> str:
    """The page of ``sub-<subject>``: one section per scan, its figures and captions, then the notices
    (warnings, excluded scans) and the methods paragraph."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>synthpet: sub-{html.escape(subject)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:70em;margin:1em auto;padding:0 1em}"
        "img{max-width:100%;display:block}figure{margin:1em 0 2em}figcaption{color:#333;max-width:60em}"
        "nav a{margin-right:1em}.notice{background:#fff4d6;padding:.5em 1em;border-left:4px solid #e0a800}</style>",
        "</head><body>",
        f"<h1>sub-{html.escape(subject)}</h1>",
        "<nav>" + "".join(f'<a href="#{s.scan}">{s.scan}</a>' for s in sections) + '<a href="#notices">notices</a>'
        '<a href="#methods">methods</a></nav>',
    ]
    for section in sections:
        parts.append(f'<section id="{section.scan}"><h2>{html.escape(section.scan)}</h2>')
        for figure in section.figures:
            parts.append(
                f"<figure><h3>{html.escape(figure.title)}</h3>{_image_tag(figure.png, figure.title)}"
                f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append('<section id="notices"><h2>Warnings and excluded scans</h2>')
    parts += [f'<p class="notice">{html.escape(notice)}</p>' for notice in notices] or ["<p>None.</p>"]
    parts.append("</section>")
    parts.append(f'<section id="methods"><h2>Methods</h2><p>{html.escape(methods)}</p></section>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
