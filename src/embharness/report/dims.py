"""Task × Matryoshka-dimension tables, one per model, revision and sample cap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from embharness.report.averages import Average, paper_averages
from embharness.report.published import Published
from embharness.results.runs import Run
from embharness.results.scoring import fmt_points, points


def is_complete(run: Run) -> bool:
    """False when mteb knows the task and the result lacks some of its splits or subsets."""
    return not run.missing_evaluations()


@dataclass(frozen=True)
class DimTable:
    """Scores (points) of one model variant: index task, one column per dimension."""

    model: str
    revision: str
    max_samples: int | None
    scores: pd.DataFrame
    incomplete: frozenset[tuple[str, int]]
    averages: dict[int, list[Average]]
    precision: str | None = None

    @property
    def title(self) -> str:
        """Heading naming the model, revision, sample cap and any non-published dtype."""
        cap = f", capped at {self.max_samples} samples (not comparable)" if self.max_samples else ""
        precision = f", {self.precision}" if self.precision else ""
        return f"{self.model} @ {self.revision[:12]}{cap}{precision}"

    def display(self) -> pd.DataFrame:
        """Strings for rendering: ``—`` for a missing cell, paper averages as extra rows."""
        rows = {}
        for task, values in self.scores.iterrows():
            rows[task] = [self._cell(task, dim, value) for dim, value in values.items()]
        names = [a.name for a in next(iter(self.averages.values()), [])]
        for i, name in enumerate(names):
            rows[name] = [self.averages[dim][i].label() for dim in self.scores.columns]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.scores.columns))
        frame.columns = [f"dim {dim}" for dim in self.scores.columns]
        return frame.rename_axis("task").reset_index()

    def _cell(self, task: str, dim: int, value: float) -> str:
        text = fmt_points(None if pd.isna(value) else float(value))
        return f"{text} (incomplete)" if (task, dim) in self.incomplete else text


TableKey = tuple[str, str, int | None, str | None]


def _table(key: TableKey, runs: list[Run], published: Published) -> DimTable:
    cells = {(run.task, run.dim): points(run.score()) for run in runs if run.dim}
    frame = pd.Series(cells, dtype=float).unstack() if cells else pd.DataFrame()
    frame = frame.reindex(columns=sorted(frame.columns)).sort_index()
    incomplete = frozenset((r.task, r.dim) for r in runs if r.dim and not is_complete(r))
    averages = {
        dim: paper_averages(
            {t: v for t, v in frame[dim].dropna().items() if (t, dim) not in incomplete},
            published,
        )
        for dim in frame.columns
    }
    return DimTable(key[0], key[1], key[2], frame, incomplete, averages, key[3])


def dim_tables(runs: Iterable[Run], published: Published) -> list[DimTable]:
    """One table per (model, revision, sample cap, dtype) over its full-dim and Matryoshka runs."""
    groups: dict[TableKey, list[Run]] = {}
    for run in runs:
        if run.kind in ("full", "dim"):
            key = (run.model, run.revision, run.max_samples, run.precision_note)
            groups.setdefault(key, []).append(run)
    ordered = sorted(groups, key=lambda k: (k[0], k[1], k[2] or 0, k[3] or ""))
    tables = [_table(key, groups[key], published) for key in ordered]
    return [table for table in tables if len(table.scores.columns)]  # dims unknown: no table
