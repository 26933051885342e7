"""Per-subset scores: split × hf_subset × Matryoshka-dimension tables for multi-cell tasks.

One table per (model, revision, sample cap, task) whose result has more than one
(split, subset) cell, with one column per dimension of that model variant's full-dimension and
``embed_dim`` runs. Rows are every cell any of those runs has, plus the cells mteb expects and a
run lacks; a cell a run has no score for is shown as ``—``, never 0. Capped quick runs
(``max_samples``) get tables of their own. ``subsets_frame`` is the same cells in long form for
``scores_by_subset.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from embharness.report.results_table import experiment_label
from embharness.results.runs import Run
from embharness.results.scoring import fmt_points, points

CSV_COLUMNS = ["model", "revision", "experiment", "dim", "task", "split", "subset", "main_score"]
COUNT_ROW = "subsets scored"
Cell = tuple[str, str]  # (split, hf_subset)


@dataclass(frozen=True)
class SubsetTable:
    """Scores (points) of one task for one model variant: rows (split, subset), cols runs."""

    model: str
    revision: str
    max_samples: int | None
    task: str
    runs: tuple[Run, ...]  # one per column, ordered by dimension
    cells: tuple[Cell, ...]  # the rows, sorted

    @property
    def subsets(self) -> list[str]:
        """The distinct hf_subsets of the rows."""
        return sorted({subset for _, subset in self.cells})

    @property
    def splits(self) -> list[str]:
        """The distinct splits of the rows."""
        return sorted({split for split, _ in self.cells})

    @property
    def title(self) -> str:
        """Caption naming the task, model, revision, sample cap and the number of subsets."""
        cap = f", capped at {self.max_samples} samples (not comparable)" if self.max_samples else ""
        count = f"{len(self.subsets)} subsets"
        if len(self.splits) > 1:
            count += f" × {len(self.splits)} splits"
        return f"{self.task}: {self.model} @ {self.revision[:12]}{cap} ({count})"

    def labels(self) -> list[str]:
        """Column labels: ``dim N``, with the experiment added where two runs share a dim."""
        plain = [f"dim {run.dim}" if run.dim else experiment_label(run) for run in self.runs]
        return [
            f"{label} ({experiment_label(run)})" if plain.count(label) > 1 else label
            for label, run in zip(plain, self.runs, strict=True)
        ]

    def scores(self) -> pd.DataFrame:
        """Points per cell (NaN where a run lacks the cell): index (split, subset)."""
        index = pd.MultiIndex.from_tuples(self.cells, names=["split", "subset"])
        columns = {}
        for label, run in zip(self.labels(), self.runs, strict=True):
            have = {(split, subset): points(score) for split, subset, score in run.cells()}
            columns[label] = [have.get(cell) for cell in self.cells]
        return pd.DataFrame(columns, index=index, dtype=float)

    def display(self) -> pd.DataFrame:
        """Strings for rendering, ``—`` for a missing cell, and a row counting scored subsets."""
        scores = self.scores()
        frame = scores.map(lambda v: fmt_points(None if pd.isna(v) else float(v)))
        frame = frame.reset_index()
        counts = {label: f"{int(scores[label].notna().sum())}/{len(scores)}" for label in scores}
        frame.loc[len(frame)] = {"split": "", "subset": COUNT_ROW, **counts}
        return frame if len(self.splits) > 1 else frame.drop(columns="split")

    def long(self) -> pd.DataFrame:
        """One CSV row per run and cell; ``main_score`` in points, empty where missing."""
        scores = self.scores().round(10)  # points without float noise (9.9989, not 9.99889…)
        rows = []
        for label, run in zip(self.labels(), self.runs, strict=True):
            head = (self.model, self.revision, experiment_label(run), run.dim, self.task)
            rows += [(*head, *cell, scores.loc[cell, label]) for cell in self.cells]
        return pd.DataFrame(rows, columns=CSV_COLUMNS)


def _cells(runs: list[Run]) -> list[Cell]:
    """Every (split, subset) any run has or mteb says it lacks."""
    cells = {(split, subset) for run in runs for split, subset, _ in run.cells()}
    for run in runs:
        for split, subsets in (run.missing_evaluations() or {}).items():
            cells.update((split, subset) for subset in subsets)
    return sorted(cells)


def subset_tables(runs: Iterable[Run]) -> list[SubsetTable]:
    """Tables for every model variant and task with more than one (split, subset) cell."""
    groups: dict[tuple[str, str, int | None, str], list[Run]] = {}
    for run in runs:
        if run.kind in ("full", "dim"):
            key = (run.model, run.revision, run.max_samples, run.task)
            groups.setdefault(key, []).append(run)
    tables = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2] or 0, k[3])):
        members = groups[key]
        if len({(split, subset) for run in members for split, subset, _ in run.cells()}) < 2:
            continue
        members.sort(key=lambda r: (r.dim is None, r.dim or 0, experiment_label(r)))
        tables.append(SubsetTable(*key, tuple(members), tuple(_cells(members))))
    return tables


def subsets_frame(tables: Iterable[SubsetTable]) -> pd.DataFrame:
    """Every table's cells in long form (``scores_by_subset.csv``)."""
    frames = [table.long() for table in tables]
    if not frames:
        return pd.DataFrame(columns=CSV_COLUMNS)
    return pd.concat(frames, ignore_index=True).astype({"dim": "Int64"})
