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
from dataclasses import dataclass, field

import pandas as pd

from embharness.report.annotate import TableNotes
from embharness.results.frame import as_frame
from embharness.results.runs import Run, RunKind

CSV_COLUMNS = ["model", "revision", "experiment", "dim", "task", "split", "subset", "main_score"]
COUNT_ROW = "subsets scored"
KEYS = ["model", "revision", "max_samples", "task"]
Cell = tuple[str, str]  # (split, hf_subset)


@dataclass(frozen=True)
class SubsetTable:
    """Scores (points) of one task for one model variant: rows (split, subset), cols runs."""

    model: str
    revision: str
    max_samples: int | None
    task: str
    frame: pd.DataFrame = field(repr=False)  # the long-frame rows of its runs
    columns: tuple[tuple[str, int | None], ...]  # (experiment, dim), ordered by dimension

    @property
    def cells(self) -> list[Cell]:
        """The rows: every (split, subset) a run has or mteb says it lacks, sorted."""
        return sorted(set(zip(self.frame["split"], self.frame["subset"], strict=True)))

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
        plain = [f"dim {dim}" if dim else label for label, dim in self.columns]
        return [
            f"{text} ({label})" if plain.count(text) > 1 else text
            for text, (label, _) in zip(plain, self.columns, strict=True)
        ]

    def scores(self) -> pd.DataFrame:
        """Points per cell (NaN where a run lacks the cell): index (split, subset)."""
        names = dict(zip([label for label, _ in self.columns], self.labels(), strict=True))
        wide = self.frame.assign(column=self.frame["experiment"].map(names)).pivot(
            index=["split", "subset"], columns="column", values="score"
        )
        index = pd.MultiIndex.from_tuples(self.cells, names=["split", "subset"])
        return wide.reindex(index=index, columns=self.labels()).rename_axis(columns=None)

    def display(self, notes: TableNotes | None = None) -> pd.DataFrame:
        """Strings for rendering, ``—`` for a missing cell, and a row counting scored subsets.

        With ``notes``, scores carry the CI of their cell (``66.50 ± 3.60``) or a footnote mark.
        """
        notes = notes or TableNotes(None)
        scores = self.scores()
        frame = pd.DataFrame(index=scores.index)
        for label, (experiment, _) in zip(self.labels(), self.columns, strict=True):
            key = (self.model, self.revision, experiment, self.task)
            frame[label] = [
                notes.score(key, None if pd.isna(v) else float(v), cell)
                for cell, v in zip(self.cells, scores[label], strict=True)
            ]
        frame = frame.reset_index()
        counts = {label: f"{int(scores[label].notna().sum())}/{len(scores)}" for label in scores}
        frame.loc[len(frame)] = {"split": "", "subset": COUNT_ROW, **counts}
        return frame if len(self.splits) > 1 else frame.drop(columns="split")

    def long(self) -> pd.DataFrame:
        """One CSV row per run and cell; ``main_score`` in points, empty where missing."""
        scores = self.scores().round(10)  # points without float noise (9.9989, not 9.99889…)
        rows = []
        for text, (label, dim) in zip(self.labels(), self.columns, strict=True):
            head = (self.model, self.revision, label, dim, self.task)
            rows += [(*head, *cell, scores.loc[cell, text]) for cell in self.cells]
        return pd.DataFrame(rows, columns=CSV_COLUMNS)


def _table(key: tuple, frame: pd.DataFrame) -> SubsetTable | None:
    if len(frame.loc[frame["score"].notna(), ["split", "subset"]].drop_duplicates()) < 2:
        return None
    runs = frame[["experiment", "dim"]].drop_duplicates()
    dims = [None if pd.isna(d) else int(d) for d in runs["dim"]]
    columns = sorted(
        zip(runs["experiment"], dims, strict=True), key=lambda c: (c[1] is None, c[1] or 0, c[0])
    )
    cap = None if pd.isna(key[2]) else int(key[2])
    return SubsetTable(key[0], key[1], cap, key[3], frame, tuple(columns))


def subset_tables(runs: Iterable[Run] | pd.DataFrame) -> list[SubsetTable]:
    """Tables for every model variant and task with more than one (split, subset) cell."""
    cells = as_frame(runs)
    cells = cells[cells["kind"].isin([RunKind.FULL, RunKind.DIM])]
    groups = dict(list(cells.groupby(KEYS, sort=False, dropna=False)))
    ordered = sorted(groups, key=lambda k: (k[0], k[1], 0 if pd.isna(k[2]) else k[2], k[3]))
    tables = [_table(key, groups[key]) for key in ordered]
    return [table for table in tables if table is not None]


def subsets_frame(tables: Iterable[SubsetTable]) -> pd.DataFrame:
    """Every table's cells in long form (``scores_by_subset.csv``)."""
    frames = [table.long() for table in tables]
    if not frames:
        return pd.DataFrame(columns=CSV_COLUMNS)
    return pd.concat(frames, ignore_index=True).astype({"dim": "Int64"})
