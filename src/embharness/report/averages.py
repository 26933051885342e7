"""Averages as the paper computes them, which never average over missing cells."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from embharness.report.published import Published
from embharness.results.frame import as_frame, task_frame
from embharness.results.runs import Run, RunKind
from embharness.results.scoring import compare, fmt_points

KEYS = ["model", "revision", "experiment"]
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
    """Each paper-style average of ``published`` (e.g. ``Overall AVG``) over task → points.

    A task without a score (or one mteb lacks, like CoSQA+) is a missing cell.
    """
    return [
        average_of(name, [scores.get(t) for t in tasks])
        for name, tasks in published.averages.items()
    ]


def _average_row(key: tuple, average: Average, published: Published, tol: float) -> dict[str, Any]:
    model, capped = key[0], key[3]
    reference = published.value(model, average.name)
    reason = "capped run: not compared" if capped else None
    if not reason and reference is not None and not average.complete:
        reason = "partial: not compared"
    result = compare(average.value, reference, tol, reason)
    return dict(zip(AVERAGE_COLUMNS, key[:3], strict=False)) | {
        "average": average.name,
        "ours": average.label(),
        "covered": average.covered,
        "total": average.total,
        "published": reference,
        "delta": result.delta,
        "within_tolerance": result.within_tolerance,
        "note": result.note,
    }


def averages_frame(
    runs: Iterable[Run] | pd.DataFrame, published: Published, tolerance: float
) -> pd.DataFrame:
    """Paper-style averages of every full-dimension variant, compared only when complete.

    Incomplete tasks (missing splits/subsets) count as missing cells.
    """
    cells = as_frame(runs)
    tasks = task_frame(cells[cells["kind"] == RunKind.FULL])
    rows = []
    for (model, revision, experiment), group in tasks.groupby(KEYS, sort=True):
        scores = dict(zip(group["task"], group["score"].where(group["complete"]), strict=True))
        key = (model, revision, experiment, group["max_samples"].notna().any())
        found = {t: float(v) for t, v in scores.items() if pd.notna(v)}
        rows += [
            _average_row(key, a, published, tolerance) for a in paper_averages(found, published)
        ]
    return pd.DataFrame(rows, columns=AVERAGE_COLUMNS)
