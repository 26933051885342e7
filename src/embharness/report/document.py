"""The report as a renderer-neutral document: sections of text, string tables and plots."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from embharness.report.annotate import TableNotes
from embharness.report.dims import DimTable
from embharness.report.intervals import Intervals
from embharness.report.plots import Plot
from embharness.report.subsets import SubsetTable
from embharness.results.scoring import fmt_delta, fmt_points

MISSING = "—"


@dataclass
class Table:
    """A table whose cells are all strings, with its caption and footnote lines."""

    frame: pd.DataFrame
    caption: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A titled block of paragraphs, tables and plots."""

    title: str
    level: int = 2
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)


@dataclass
class Document:
    """The whole report."""

    title: str
    intro: list[str]
    sections: list[Section]


def _mark(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    return "✓" if bool(value) else "✗"


def _num(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]


def _int(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else str(int(float(str(value))))


def display(frame: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Strings for a frame with ``ours/published/delta/within_tolerance`` columns."""
    out = frame.copy()
    for column in ("ours", "published"):
        if column in out and out[column].map(lambda v: not isinstance(v, str)).all():
            out[column] = out[column].map(lambda v: fmt_points(_num(v)))
    out["published"] = out["published"].map(lambda v: MISSING if v in (None, "") else v)
    out["ours"] = out["ours"].map(lambda v: "missing" if v in (None, "", MISSING) else v)
    if "delta" in out:
        out["delta"] = out["delta"].map(lambda v: fmt_delta(_num(v)))
    if "within_tolerance" in out:
        out["within_tolerance"] = out["within_tolerance"].map(_mark)
    for column in ("dim", "max_samples", "covered", "total"):
        if column in out:
            out[column] = out[column].map(_int)
    if "revision" in out:
        out["revision"] = out["revision"].map(lambda r: str(r)[:12])
    out = out.rename(columns={"delta": "Δ", "within_tolerance": f"within ±{tolerance:g}"})
    return out.fillna("").astype(str).replace({"None": ""})


def _annotated(table: DimTable | SubsetTable, intervals: Intervals | None) -> Table:
    """A dim or subset table with CIs (or marks) on its scores, and its footnote."""
    notes = TableNotes(intervals)
    frame = table.display(notes)
    averages = isinstance(table, DimTable) and table.has_averages
    return Table(frame, table.title, notes.footnote(averages=averages))


def _tables_section(
    title: str, intro: str, tables: list, empty: str, intervals: Intervals | None
) -> Section:
    section = Section(title, paragraphs=[intro])
    section.tables = [_annotated(table, intervals) for table in tables]
    if not tables:
        section.paragraphs.append(empty)
    return section


def dim_section(tables: list[DimTable], intervals: Intervals | None = None) -> Section:
    """Task × Matryoshka dimension tables, one per model variant."""
    return _tables_section(
        "Matryoshka dimensions",
        "Main score (points) per task and embedding dimension; the largest dimension is "
        "the full-dimension default run. Paper-style averages per dimension are partial "
        "wherever a cell is missing; `(incomplete)` marks a result lacking some of the "
        "task's splits or subsets (left out of the averages).",
        tables,
        "No results with a known embedding dimension.",
        intervals,
    )


def subset_section(tables: list[SubsetTable], intervals: Intervals | None = None) -> Section:
    """Split × subset × Matryoshka dimension tables, one per model variant and task."""
    return _tables_section(
        "Per-subset scores",
        "Main score (points) per subset (and split, where there are several) and embedding "
        "dimension, for every task whose result has more than one split × subset cell "
        "(also in `scores_by_subset.csv`). `—` marks a missing cell; the last row counts "
        "the subsets scored. Capped runs (`max_samples`) have tables of their own.",
        tables,
        "No result has more than one split × subset cell.",
        intervals,
    )
