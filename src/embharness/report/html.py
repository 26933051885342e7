"""Render a report Document as one self-contained HTML file (plots embedded as PNG)."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from embharness.report.document import Document, Section

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #eef2f7; }
tr:nth-child(even) td { background: #fafafa; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0.3em 0; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #ddd; }
p.footnote { font-size: 0.8em; color: #555; margin-top: -1em; }
code { background: #f3f3f3; padding: 0 0.2em; }
"""


def _inline(text: str) -> str:
    """Escape text, turning `code` spans into <code> elements."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def _section(section: Section) -> list[str]:
    level = min(section.level, 6)
    parts = [f"<h{level}>{html.escape(section.title)}</h{level}>"]
    parts += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
    for table in section.tables:
        body = table.frame.to_html(index=False, escape=True, border=0)
        if table.caption:
            caption = f"<caption>{html.escape(table.caption)}</caption>"
            body = body.replace(">", ">" + caption, 1)
        parts.append(body)
        if table.notes:
            notes = "<br>".join(_inline(note) for note in table.notes)
            parts.append(f'<p class="footnote">{notes}</p>')
    for plot in section.plots:
        caption = f"<figcaption>{html.escape(plot.title)}</figcaption>"
        parts.append(f"<figure>{_image(plot.png)}{caption}</figure>")
    return parts


def render_html(document: Document) -> str:
    """The HTML text, with every plot embedded as a base64 PNG."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(document.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
        *(f"<p>{_inline(p)}</p>" for p in document.intro),
    ]
    for section in document.sections:
        parts += _section(section)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
