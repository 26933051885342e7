"""Our task scores next to the published ones: the model × task comparison table.

A run's reference is the published figure for its model (``report.published``): the published
cells averaged over exactly the split × subset cells our result has, when the model has cells
for the task, else the task-level figure. Capped runs, and incomplete tasks compared with a
task-level figure, are shown but never compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import pandas as pd

from embharness.report.published import Published
from embharness.results.frame import as_frame, task_frame
from embharness.results.runs import DEFAULT_EXPERIMENT, Run, RunKind
from embharness.results.scoring import compare

COLUMNS = ["model", "revision", "experiment", "dim", "max_samples", "task", "task_type", "ours"]
COLUMNS += ["published", "reference", "delta", "within_tolerance", "note"]
SORT = ["model", "revision", "experiment", "task"]
NOTES = {
    RunKind.DIM: "Matryoshka dimension: no published figure",
    RunKind.OTHER: "experiment: not compared",
}
Reference = tuple[float | None, str, str, bool]  # value, source, note, task-level


def reference_for(cells: pd.DataFrame, published: Published) -> Reference | None:
    """The published figure one run's cells (present ones) are compared with, or None."""
    head = cells.iloc[0]
    rows = published.cell_figures(head["model"])
    rows = rows[rows["task"] == head["task"]]
    if rows.empty:
        level = published.task_figures(head["model"])
        level = level[level["task"] == head["task"]]
        return (
            None
            if level.empty
            else (float(level.iloc[0]["value"]), level.iloc[0]["source"], "", True)
        )
    table = rows.set_index(["split", "subset"])["value"]
    keys = list(zip(cells["split"], cells["subset"], strict=True))
    revision, source = rows.iloc[0]["revision"], rows.iloc[0]["source"]
    note = "" if revision in ("", head["revision"]) else f"published revision {revision[:7]}"
    absent = [key for key in keys if key not in table.index]
    if absent:
        return None, source, f"published file lacks {'/'.join(absent[0])}", False
    return statistics.fmean(float(table[key]) for key in keys), source, note, False


def compare_row(task: pd.Series, cells: pd.DataFrame, published: Published, tol: float) -> dict:
    """One comparison row for one full-dimension run (``task``: its ``task_frame`` row)."""
    row: dict[str, Any] = {c: task.get(c) for c in COLUMNS} | {"ours": task["score"]}
    row |= {"note": "no published figure"}
    ref = reference_for(cells[cells["score"].notna()], published)
    if ref is not None:
        value, source, note, task_level = ref
        reason = None
        if pd.notna(task["max_samples"]):
            reason = f"capped at {task['max_samples']} samples: not compared"
        elif task_level and task["missing"]:
            reason = f"incomplete task (missing {task['missing']}): not compared"
        result = compare(task["score"], value, tol, reason)
        row |= {"published": value, "reference": source, "delta": result.delta}
        row |= {"within_tolerance": result.within_tolerance}
        row["note"] = "; ".join(filter(None, [result.note, note]))
    row["note"] = "; ".join(filter(None, [row["note"], task["marks"]]))
    return row


def _missing_rows(tasks: pd.DataFrame, published: Published) -> list[dict[str, Any]]:
    """Tasks of a ``list_missing`` average a model has a figure for but no uncapped result."""
    rows = []
    for (model, revision), have in tasks.groupby(["model", "revision"], sort=False)["task"]:
        figures = published.task_figures(model).drop_duplicates("task").set_index("task")
        wanted = [t for name in published.list_missing for t in published.averages[name]]
        for task in (t for t in wanted if t in figures.index and t not in set(have)):
            fig = figures.loc[task]
            rows.append(
                {"model": model, "revision": revision, "experiment": DEFAULT_EXPERIMENT}
                | {"task": task, "published": float(fig["value"])}
                | {"reference": fig["source"], "note": f"missing: {fig['note'] or 'no result'}"}
            )
    return rows


def comparison_frame(
    runs: Iterable[Run] | pd.DataFrame, published: Published, tolerance: float
) -> pd.DataFrame:
    """Full-dimension runs (default and capped) against the published figures.

    Tasks of a ``list_missing`` average that a model has no result for appear with ``ours``
    empty.
    """
    cells = as_frame(runs)
    cells = cells[cells["kind"] == RunKind.FULL]
    tasks = task_frame(cells)
    groups = [g for _, g in cells.groupby(SORT, sort=False, dropna=False)]
    rows = [
        compare_row(t, g, published, tolerance)
        for (_, t), g in zip(tasks.iterrows(), groups, strict=True)
    ]
    rows += _missing_rows(tasks[tasks["max_samples"].isna()], published)
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(object)
    return frame.where(frame.notna(), None).sort_values(SORT, ignore_index=True)


def scores_frame(
    runs: Iterable[Run] | pd.DataFrame, published: Published, tolerance: float
) -> pd.DataFrame:
    """Every result (all experiments) for ``scores.csv``; only full-dimension runs compared."""
    cells = as_frame(runs)
    tasks = task_frame(cells[cells["kind"] != RunKind.FULL])
    extra = tasks.assign(ours=tasks["score"], note=tasks["kind"].map(NOTES))
    extra = extra.reindex(columns=COLUMNS)
    frame = pd.concat([comparison_frame(cells, published, tolerance), extra], ignore_index=True)
    frame = frame.sort_values(SORT, ignore_index=True)
    return frame.astype({"dim": "Int64", "max_samples": "Int64"})
