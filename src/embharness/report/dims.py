"""Task × Matryoshka-dimension tables, one per model, revision, sample cap and dtype."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from embharness.report.annotate import TableNotes
from embharness.report.averages import Average, paper_averages
from embharness.report.intervals import RunKey
from embharness.report.published import Published
from embharness.results.frame import as_frame, task_frame
from embharness.results.runs import Run, RunKind

KEYS = ["model", "revision", "max_samples", "precision"]


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
    experiments: Mapping[tuple[str, int], str] = field(default_factory=dict)  # (task, dim)

    def key(self, task: str, dim: int) -> RunKey:
        """The run behind the score of ``task`` at ``dim``."""
        return (self.model, self.revision, self.experiments.get((task, dim), ""), task)

    @property
    def title(self) -> str:
        """Heading naming the model, revision, sample cap and any non-published dtype."""
        cap = f", capped at {self.max_samples} samples (not comparable)" if self.max_samples else ""
        precision = f", {self.precision}" if self.precision else ""
        return f"{self.model} @ {self.revision[:12]}{cap}{precision}"

    def display(self, notes: TableNotes | None = None) -> pd.DataFrame:
        """Strings for rendering: ``—`` for a missing cell, paper averages as extra rows.

        With ``notes``, scores carry their CI (``66.50 ± 3.60``) or a footnote mark.
        """
        notes = notes or TableNotes(None)
        rows = {}
        for task, values in self.scores.iterrows():
            rows[task] = [self._cell(task, dim, value, notes) for dim, value in values.items()]
        names = [a.name for a in next(iter(self.averages.values()), [])]
        for i, name in enumerate(names):
            rows[name] = [self.averages[dim][i].label() for dim in self.scores.columns]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.scores.columns))
        frame.columns = [f"dim {dim}" for dim in self.scores.columns]
        return frame.rename_axis("task").reset_index()

    @property
    def has_averages(self) -> bool:
        """True when the table ends with paper-style average rows."""
        return any(self.averages.values())

    def _cell(self, task: str, dim: int, value: float, notes: TableNotes) -> str:
        text = notes.score(self.key(task, dim), None if pd.isna(value) else float(value))
        return f"{text} (incomplete)" if (task, dim) in self.incomplete else text


def _table(key: tuple, tasks: pd.DataFrame, published: Published) -> DimTable:
    tasks = tasks.drop_duplicates(["task", "dim"], keep="last").astype({"dim": int})
    frame = tasks.pivot(index="task", columns="dim", values="score").sort_index()
    frame = frame.rename_axis(index=None, columns=None)
    incomplete = frozenset(
        zip(
            tasks.loc[~tasks["complete"], "task"], tasks.loc[~tasks["complete"], "dim"], strict=True
        )
    )
    averages = {
        dim: paper_averages(
            {t: v for t, v in frame[dim].dropna().items() if (t, dim) not in incomplete}, published
        )
        for dim in frame.columns
    }
    cap = None if pd.isna(key[2]) else int(key[2])
    precision = key[3] if isinstance(key[3], str) else None
    runs = zip(tasks["task"], tasks["dim"], tasks["experiment"], strict=True)
    experiments = {(str(task), int(dim)): str(label) for task, dim, label in runs}
    return DimTable(key[0], key[1], cap, frame, incomplete, averages, precision, experiments)


def dim_tables(runs: Iterable[Run] | pd.DataFrame, published: Published) -> list[DimTable]:
    """One table per (model, revision, sample cap, dtype) over its full-dim and Matryoshka runs."""
    cells = as_frame(runs)
    tasks = task_frame(cells[cells["kind"].isin([RunKind.FULL, RunKind.DIM])])
    tasks = tasks[tasks["dim"].notna()]  # dims unknown: no table
    groups = dict(list(tasks.groupby(KEYS, sort=False, dropna=False)))
    ordered = sorted(
        groups,
        key=lambda k: (
            k[0],
            k[1],
            k[2] if pd.notna(k[2]) else 0,
            k[3] if isinstance(k[3], str) else "",
        ),
    )
    return [_table(key, groups[key], published) for key in ordered]
