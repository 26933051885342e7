"""Averages as the paper computes them, which never average over missing cells."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from embharness.report.published import CODE_AVG, OVERALL_AVG, Published
from embharness.results.runs import Run
from embharness.results.scoring import delta_points, fmt_points, points, within_tolerance

AVERAGE_COLUMNS = [
    "model",
    "revision",
    "experiment",
    "average",
    "ours",
    "covered",
    "total",
    "published",
    "delta",
    "within_tolerance",
    "note",
]


@dataclass(frozen=True)
class Average:
    """Mean of the cells present; ``partial`` when some of the ``total`` cells are missing."""

    name: str
    value: float | None
    covered: int
    total: int

    @property
    def complete(self) -> bool:
        """True when every cell is present (only then may it be compared)."""
        return self.total > 0 and self.covered == self.total

    def label(self) -> str:
        """``78.41`` when complete, ``71.20 (partial, 3/12)`` otherwise, ``— (0/12)`` if empty."""
        if self.value is None:
            return f"— (0/{self.total})"
        if self.complete:
            return fmt_points(self.value)
        return f"{fmt_points(self.value)} (partial, {self.covered}/{self.total})"


def average_of(name: str, cells: Sequence[float | None]) -> Average:
    """The Average of ``cells`` (points), where None marks a missing cell."""
    present = [cell for cell in cells if cell is not None]
    value = statistics.fmean(present) if present else None
    return Average(name=name, value=value, covered=len(present), total=len(cells))


def paper_averages(scores: Mapping[str, float], published: Published) -> list[Average]:
    """``Overall AVG`` (25 benchmarks) and ``MTEB Code AVG`` (12 tasks) of task → points.

    A paper benchmark that mteb does not have (CoSQA+, Doc2Code…) is always a missing cell.
    """
    overall = [scores.get(task) if task else None for _, task in published.overall_cells()]
    code = [scores.get(task) for task in published.code_tasks()]
    return [average_of(OVERALL_AVG, overall), average_of(CODE_AVG, code)]


def _average_rows(
    key: tuple[str, str, str, bool], scores: dict[str, float], published: Published, tol: float
) -> list[dict[str, Any]]:
    model, revision, experiment, capped = key
    rows = []
    for average in paper_averages(scores, published):
        reference = published.paper_average(model, average.name)
        row: dict[str, Any] = {
            "model": model,
            "revision": revision,
            "experiment": experiment,
            "average": average.name,
            "ours": average.label(),
            "covered": average.covered,
            "total": average.total,
            "published": reference,
            "delta": None,
            "within_tolerance": None,
            "note": "",
        }
        if capped:
            row["note"] = "capped run: not compared"
        elif reference is not None and not average.complete:
            row["note"] = "partial: not compared"
        elif reference is not None and average.value is not None:
            row["delta"] = delta_points(average.value, reference)
            row["within_tolerance"] = within_tolerance(row["delta"], tol)
        rows.append(row)
    return rows


def averages_frame(runs: Iterable[Run], published: Published, tolerance: float) -> pd.DataFrame:
    """Paper-style averages of every full-dimension variant, compared only when complete.

    Incomplete tasks (missing splits/subsets) count as missing cells.
    """
    groups: dict[tuple[str, str, str, bool], dict[str, float]] = {}
    for run in runs:
        if run.kind != "full":
            continue
        key = (run.model, run.revision, run.experiment or "default", run.capped)
        scores = groups.setdefault(key, {})
        if not run.missing_evaluations():
            scores[run.task] = points(run.score())
    rows = [
        row
        for key in sorted(groups)
        for row in _average_rows(key, groups[key], published, tolerance)
    ]
    return pd.DataFrame(rows, columns=AVERAGE_COLUMNS)
