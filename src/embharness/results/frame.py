"""Every scored cell of a results folder as one long pandas frame, the report's single input.

Like mteb's ``BenchmarkResults.to_dataframe(format="long")``, one row per model variant × task ×
split × subset; every report table is a pivot or groupby of it. Columns:

- ``model``, ``revision``: the model's name and revision;
- ``experiment``: ``Run.label`` (the experiment folder name, ``"default"`` for the default run);
- ``kind``: ``RunKind`` (FULL, DIM, OTHER; see ``results.runs``);
- ``dim``: the embedding dimension (None when unknown); ``max_samples``: the sample cap or None;
- ``precision``: ``Run.precision_note`` (the mark of a non-published dtype) or None;
- ``task``, ``task_type``: the task and its mteb type;
- ``split``, ``subset``: the cell (mteb's split and hf_subset);
- ``score``: main score in points (×100); NaN for a cell mteb expects and the result lacks;
- ``main_score``: the same as mteb stores it (a 0–1 fraction), so that averages are taken as
  ``Run.score`` takes them (points of the mean fraction) and match it to the last bit;
- ``complete``: True when the task's result has every split/subset mteb expects;
- ``marks``: ``Run.marks()`` joined by ``; `` (dtype, harness-chosen prompts), ``""`` if none.

``task_frame`` aggregates it to one row per run: the run columns, ``score`` (plain mean of the
cells present, as ``Run.score``), ``cells`` (cells present) and ``missing`` (the cells mteb
expects and the result lacks, as ``split: a, b; split2: c``, ``""`` when complete).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

import pandas as pd

from embharness.results.runs import Run
from embharness.results.scoring import points

RUN_COLUMNS = ["model", "revision", "experiment", "kind", "dim", "max_samples", "precision"]
RUN_COLUMNS += ["task", "task_type", "complete", "marks"]
COLUMNS = [*RUN_COLUMNS[:9], "split", "subset", "score", "main_score", "complete", "marks"]
TASK_COLUMNS = [*RUN_COLUMNS, "score", "cells", "missing"]


def _run_rows(run: Run) -> list[dict[str, Any]]:
    missing = run.missing_evaluations() or {}
    head = {
        "model": run.model,
        "revision": run.revision,
        "experiment": run.label,
        "kind": run.kind,
        "dim": run.dim,
        "max_samples": run.max_samples,
        "precision": run.precision_note,
        "task": run.task,
        "task_type": run.task_type,
        "complete": not missing,
        "marks": "; ".join(run.marks()),
    }
    rows = [
        head | {"split": sp, "subset": sub, "score": points(s), "main_score": s}
        for sp, sub, s in run.cells()
    ]
    gaps = [(split, subset) for split, subsets in missing.items() for subset in sorted(subsets)]
    nan = {"score": math.nan, "main_score": math.nan}
    return rows + [head | {"split": sp, "subset": sub} | nan for sp, sub in gaps]


def runs_frame(runs: Iterable[Run]) -> pd.DataFrame:
    """The long frame of ``runs`` (columns in the module docstring), in ``load_runs`` order."""
    rows = [row for run in runs for row in _run_rows(run)]
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    return frame.astype({"score": float, "main_score": float, "complete": bool})


def _missing_text(cells: pd.DataFrame) -> str:
    gaps = cells[cells["score"].isna()].groupby("split", sort=False)["subset"]
    return "; ".join(f"{split}: {', '.join(sorted(subsets))}" for split, subsets in gaps)


def mean_points(cells: pd.DataFrame) -> float:
    """Points of the plain mean main score of the cells present (as ``Run.score``), or NaN."""
    present = cells["main_score"].dropna()
    return points(statistics.fmean(present)) if len(present) else math.nan


def _task_row(cells: pd.DataFrame) -> dict[str, Any]:
    present = cells["score"].dropna()
    head: dict[str, Any] = cells.iloc[0][RUN_COLUMNS].to_dict()
    score = mean_points(cells)
    return head | {"score": score, "cells": len(present), "missing": _missing_text(cells)}


def task_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """One row per run (model, revision, experiment, task) of the long frame ``cells``."""
    keys = ["model", "revision", "experiment", "task"]
    rows = [_task_row(group) for _, group in cells.groupby(keys, sort=False, dropna=False)]
    frame = pd.DataFrame(rows, columns=TASK_COLUMNS, dtype=object)
    return frame.astype({"score": float, "complete": bool})


def as_frame(runs_or_cells: Iterable[Run] | pd.DataFrame) -> pd.DataFrame:
    """The long frame itself, or built from runs (so tables accept either)."""
    if isinstance(runs_or_cells, pd.DataFrame):
        return runs_or_cells
    return runs_frame(runs_or_cells)
