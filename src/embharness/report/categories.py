"""A model's published per-cell figures and category averages (``categories.yaml``
``benchmarks``) against our full-dimension, uncapped runs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import mteb
import pandas as pd

from embharness.report.annotate import TableNotes
from embharness.report.averages import Average, average_of
from embharness.report.published import Published
from embharness.results.frame import as_frame
from embharness.results.runs import Run, RunKind
from embharness.results.scoring import compare, points

CELL_COLUMNS = ["experiment", "task", "split", "subset", "ours", "published", "delta"]
CELL_COLUMNS += ["within_tolerance", "note"]
CATEGORY_COLUMNS = ["benchmark", "category", "ours", "reference", "published", "delta"]
CATEGORY_COLUMNS += ["within_tolerance", "note"]
Cell = tuple[str, str]
Scores = dict[str, dict[Cell, float]]  # task -> cell -> main score (0–1)


def _full(runs: Iterable[Run] | pd.DataFrame, model: str) -> pd.DataFrame:
    cells = as_frame(runs)
    keep = (cells["model"] == model) & (cells["kind"] == RunKind.FULL) & cells["score"].notna()
    return cells[keep]


def cell_models(runs: Iterable[Run] | pd.DataFrame, published: Published) -> list[str]:
    """Models with full-dimension runs and published per-cell figures."""
    cells = as_frame(runs)
    models = cells.loc[cells["kind"] == RunKind.FULL, "model"].unique()
    return [m for m in sorted(models) if not published.cell_figures(m).empty]


def cells_frame(
    runs: Iterable[Run] | pd.DataFrame,
    published: Published,
    tolerance: float,
    model: str = "",
    notes: TableNotes | None = None,
) -> pd.DataFrame:
    """Each task × split × subset we have next to the published cell (first such model).

    With ``notes``, ``ours`` is text: the cell's score with its CI or a footnote mark.
    """
    model = model or next(iter(cell_models(runs, published)), "")
    table = published.cell_figures(model).set_index(["task", "split", "subset"])["value"]
    rows = []
    for row in _full(runs, model).itertuples():
        ref = table.get((row.task, row.split, row.subset))
        reason = "not in the results repository" if ref is None else None
        if not reason and pd.notna(row.max_samples):
            reason = f"capped at {row.max_samples} samples: not compared"
        result = compare(row.score, None if ref is None else float(ref), tolerance, reason)
        key = (model, str(row.revision), str(row.experiment), str(row.task))
        ours = notes.score(key, row.score, (row.split, row.subset)) if notes else row.score
        rows.append(
            {"experiment": row.experiment, "task": row.task, "split": row.split}
            | {"subset": row.subset, "ours": ours, "published": ref, "note": result.note}
            | {"delta": result.delta, "within_tolerance": result.within_tolerance}
        )
    return pd.DataFrame(rows, columns=CELL_COLUMNS).astype(object).where(lambda f: f.notna(), None)


def _category_rows(
    bench: str, category: str, ours: Average, figures: list[tuple[str, float | None]], tol: float
) -> list[dict[str, Any]]:
    rows = []
    for reference, value in figures:
        reason = None
        if value is None:
            reason = "published rows incomplete"
        elif ours.covered == 0:
            reason = "no result"
        elif not ours.complete:
            reason = "needs every task: not compared"
        result = compare(ours.value, value, tol, reason)
        rows.append(
            {"benchmark": bench, "category": category, "ours": ours.label()}
            | {"reference": reference, "published": value, "note": result.note}
            | {"delta": result.delta, "within_tolerance": result.within_tolerance}
        )
    return rows


def _figures(published: Published, model: str, name: str) -> list[tuple[str, float | None]]:
    rows = published.task_figures(model)
    rows = rows[rows["task"] == name]
    return [(str(r.source), float(r.value)) for r in rows.itertuples()]


def _count(category: str, n: int) -> str:
    return f"{category} ({n} task{'s' if n != 1 else ''})"


def _score_at(scores: dict[Cell, float] | None, cells: list[Cell]) -> float | None:
    """Mean of our scores (points) at ``cells``; None unless every cell is present."""
    if not scores or not all(cell in scores for cell in cells):
        return None
    return points(statistics.fmean(scores[cell] for cell in cells))


def _mteb_cells(published: Published, model: str, spec: dict) -> dict[str, tuple[str, list[Cell]]]:
    """Task → (type, cells averaged) of the benchmark's tasks (``cells``: the marked cells)."""
    marked = published.cell_figures(model)
    marked = marked[marked["note"] == spec.get("cells")].drop_duplicates("task").set_index("task")
    out = {}
    for task in mteb.get_benchmark(spec["mteb"]).tasks:
        name, splits = task.metadata.name, task.eval_splits
        if name in marked.index:
            cells = [(str(marked.loc[name, "split"]), str(marked.loc[name, "subset"]))]
        else:
            split = "test" if "test" in splits else splits[0]
            cells = [(split, subset) for subset in task.hf_subsets]
        out[name] = (str(task.metadata.type), cells)
    return out


def _mteb_rows(
    bench: str, spec: dict, model: str, ours: Scores, pub: Published, tol: float
) -> list:
    bench_cells = _mteb_cells(pub, model, spec)
    recompute = spec.get("recompute")
    table = pub.cell_figures(model)
    table = table[table["source"] == recompute].set_index(["task", "split", "subset"])["value"]
    rows = []
    for category in ["Average", *sorted({kind for kind, _ in bench_cells.values()})]:
        tasks = [t for t, (kind, _) in bench_cells.items() if category in ("Average", kind)]
        mean = average_of(category, [_score_at(ours.get(t), bench_cells[t][1]) for t in tasks])
        refs = _figures(pub, model, f"{bench}: {category}")
        if recompute:
            one = [bench_cells[t][1] for t in tasks]
            repo = [
                table.get((t, *c[0])) if len(c) == 1 else None
                for t, c in zip(tasks, one, strict=True)
            ]
            known = [float(v) for v in repo if v is not None]
            refs.append(
                (
                    f"{recompute} (recomputed)",
                    statistics.fmean(known) if len(known) == len(repo) else None,
                )
            )
        rows += _category_rows(bench, _count(category, len(tasks)), mean, refs, tol)
    return rows


def _task_rows(
    bench: str, tasks: list[str], model: str, ours: Scores, pub: Published, tol: float
) -> list:
    scores = {t: points(statistics.fmean(ours[t].values())) for t in tasks if t in ours}
    rows = []
    for task in tasks:
        rows += _category_rows(
            bench, task, average_of(task, [scores.get(task)]), _figures(pub, model, task), tol
        )
    figures = _figures(pub, model, f"{bench}: Average")
    if figures:
        mean = average_of("Average", [scores.get(t) for t in tasks])
        rows += _category_rows(bench, _count("Average", len(tasks)), mean, figures, tol)
    return rows


def _unset_rows(bench: str, model: str, published: Published) -> list[dict[str, Any]]:
    rows = published.task_figures(model)
    rows = rows[rows["task"].str.startswith(f"{bench}: ")]
    return [
        dict.fromkeys(CATEGORY_COLUMNS)
        | {
            "benchmark": bench,
            "category": r.task.removeprefix(f"{bench}: "),
            "ours": "not computed",
        }
        | {"reference": r.source, "published": float(r.value)}
        | {"note": "task set not defined by the source: not computed"}
        for r in rows.itertuples()
    ]


def categories_frame(
    runs: Iterable[Run] | pd.DataFrame, published: Published, tolerance: float, model: str = ""
) -> pd.DataFrame:
    """``model``'s category averages, compared where every task is present.

    A benchmark without a task set is listed without ours.
    """
    model = model or next(iter(cell_models(runs, published)), "")
    full = _full(runs, model)
    full = full[full["max_samples"].isna()]
    ours: Scores = {}
    for (task, _), group in full.groupby(["task", "experiment"], sort=False):
        ours[task] = dict(
            zip(zip(group["split"], group["subset"], strict=True), group["main_score"], strict=True)
        )
    rows: list[dict[str, Any]] = []
    for bench, spec in published.benchmarks.items():
        if spec.get("mteb"):
            rows += _mteb_rows(bench, spec, model, ours, published, tolerance)
        elif spec.get("tasks"):
            rows += _task_rows(bench, list(spec["tasks"]), model, ours, published, tolerance)
        else:
            rows += _unset_rows(bench, model, published)
    return pd.DataFrame(rows, columns=CATEGORY_COLUMNS)
