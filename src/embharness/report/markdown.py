"""Render a report Document as Markdown (plots linked as relative PNG paths)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from embharness.report.document import Document, Section


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a string DataFrame."""
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = [
        "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _section(section: Section, base: Path) -> list[str]:
    lines = ["#" * section.level + " " + section.title, ""]
    for paragraph in section.paragraphs:
        lines += [paragraph, ""]
    for table in section.tables:
        if table.caption:
            lines += [f"**{table.caption}**", ""]
        lines += [markdown_table(table.frame), ""]
        if table.notes:
            lines += ["  \n".join(table.notes), ""]  # one paragraph, a line per note
    for plot in section.plots:
        lines += [f"![{plot.title}]({plot.png.relative_to(base).as_posix()})", ""]
    return lines


def render_markdown(document: Document, base: Path) -> str:
    """The Markdown text; plot paths are written relative to ``base`` (the report folder)."""
    lines = [f"# {document.title}", ""]
    for paragraph in document.intro:
        lines += [paragraph, ""]
    for section in document.sections:
        lines += _section(section, base)
    return "\n".join(lines).rstrip() + "\n"
