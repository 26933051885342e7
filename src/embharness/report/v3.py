"""jina-embeddings-v3 against the public MTEB results repository and its published averages."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import mteb
import pandas as pd

from embharness.report.averages import Average, average_of
from embharness.report.published import MTEB_RESULTS, V3_MODEL, Published
from embharness.report.results_table import experiment_label
from embharness.results.runs import Run
from embharness.results.scoring import delta_points, points, within_tolerance

ENG_BENCHMARK = "MTEB(eng, v1)"
ENG_PREFIX = "MTEB(eng) "
LONGEMBED_AVERAGE = "LongEmbed average (6 tasks)"
CELL_COLUMNS = [
    "experiment",
    "task",
    "split",
    "subset",
    "ours",
    "published",
    "delta",
    "within_tolerance",
    "note",
]
CATEGORY_COLUMNS = [
    "benchmark",
    "category",
    "ours",
    "reference",
    "published",
    "delta",
    "within_tolerance",
    "note",
]
Cell = tuple[str, str]


def v3_runs(runs: Iterable[Run]) -> list[Run]:
    """jina-embeddings-v3's full-dimension runs (default and capped)."""
    return [run for run in runs if run.model == V3_MODEL and run.kind == "full"]


def cells_frame(runs: Iterable[Run], published: Published, tolerance: float) -> pd.DataFrame:
    """Each task × split × subset we have, next to the results repository's main score."""
    table = published.v3_results.set_index(["task", "split", "subset"])["score"]
    rows = []
    for run in v3_runs(runs):
        for split, subset, score in run.cells():
            ours, ref = points(score), table.get((run.task, split, subset))
            row: dict[str, Any] = dict.fromkeys(CELL_COLUMNS)
            row |= {"experiment": experiment_label(run), "task": run.task, "split": split}
            row |= {"subset": subset, "ours": ours, "published": ref, "note": ""}
            if ref is None:
                row["note"] = "not in the results repository"
            elif run.capped:
                row["note"] = f"capped at {run.max_samples} samples: not compared"
            else:
                row["delta"] = delta_points(ours, float(ref))
                row["within_tolerance"] = within_tolerance(row["delta"], tolerance)
            rows.append(row)
    return pd.DataFrame(rows, columns=CELL_COLUMNS).astype(object).where(lambda f: f.notna(), None)


def _eng_cells(published: Published) -> dict[str, tuple[str, list[Cell]]]:
    """MTEB(eng, v1) task → (type, cells scored for the benchmark)."""
    marked = published.v3_results[published.v3_results["in_mteb_eng_v1"]].set_index("task")
    out = {}
    for task in mteb.get_benchmark(ENG_BENCHMARK).tasks:
        name, splits = task.metadata.name, task.eval_splits
        if name in marked.index:
            cells = [(marked.loc[name, "split"], marked.loc[name, "subset"])]
        else:
            split = "test" if "test" in splits else splits[0]
            cells = [(split, subset) for subset in task.hf_subsets]
        out[name] = (str(task.metadata.type), cells)
    return out


def _score_at(run: Run | None, cells: list[Cell]) -> float | None:
    """Mean of our scores (points) at ``cells``; None unless every cell is present."""
    have = {(split, subset): score for split, subset, score in run.cells()} if run else {}
    if not all(cell in have for cell in cells):
        return None
    return points(statistics.fmean(have[cell] for cell in cells))


def _source_label(source: str) -> str:
    return "paper" if source.startswith("arXiv") else "model card"


def _category_rows(
    bench: str, category: str, ours: Average, figures: list[tuple[str, float | None]], tol: float
) -> list[dict[str, Any]]:
    rows = []
    for reference, value in figures:
        row = dict.fromkeys(CATEGORY_COLUMNS)
        row |= {"benchmark": bench, "category": category, "ours": ours.label()}
        row |= {"reference": reference, "published": value, "note": ""}
        if value is None:
            row["note"] = "published rows incomplete"
        elif ours.covered == 0:
            row["note"] = "no result"
        elif not ours.complete:
            row["note"] = "needs every task: not compared"
        else:
            delta = delta_points(ours.value or 0.0, value)
            row["delta"], row["within_tolerance"] = delta, within_tolerance(delta, tol)
        rows.append(row)
    return rows


def _eng_rows(by_task: dict[str, Run], published: Published, tol: float) -> list[dict[str, Any]]:
    eng = _eng_cells(published)
    table = published.v3_results.set_index(["task", "split", "subset"])["score"]
    figures = published.v3_figures(ENG_PREFIX)
    categories = ["Average", *sorted({kind for kind, _ in eng.values()})]
    rows = []
    for category in categories:
        tasks = [t for t, (kind, _) in eng.items() if category in ("Average", kind)]
        ours = average_of(category, [_score_at(by_task.get(t), eng[t][1]) for t in tasks])
        repo = [table.get((t, *eng[t][1][0])) if len(eng[t][1]) == 1 else None for t in tasks]
        refs: list[tuple[str, float | None]] = [
            (_source_label(f.source), float(f.value))
            for f in figures.itertuples()
            if _eng_category(f.figure) == category
        ]
        known = [float(v) for v in repo if v is not None]
        repo_value = statistics.fmean(known) if len(known) == len(repo) else None
        refs.append((f"{MTEB_RESULTS} (recomputed)", repo_value))
        rows += _category_rows(ENG_BENCHMARK, _count(category, len(tasks)), ours, refs, tol)
    return rows


def _count(category: str, n: int) -> str:
    return f"{category} ({n} task{'s' if n != 1 else ''})"


def _eng_category(figure: str) -> str:
    name = figure.removeprefix(ENG_PREFIX).removesuffix(" avg")
    return "Average" if name.startswith("average") else name


def _longembed_rows(by_task: dict[str, Run], published: Published, tol: float) -> list[dict]:
    figures = published.v3_figures("LEMB")
    rows = []
    for figure in figures.itertuples():
        run = by_task.get(figure.figure)
        ours = average_of(figure.figure, [points(run.score()) if run else None])
        rows += _category_rows(
            "LongEmbed", figure.figure, ours, [("paper", float(figure.value))], tol
        )
    tasks = list(figures["figure"])
    cells = [points(by_task[t].score()) if t in by_task else None for t in tasks]
    average = published.v3_figures(LONGEMBED_AVERAGE)
    if not average.empty:
        ours = average_of("Average", cells)
        ref: list[tuple[str, float | None]] = [("paper", float(average.loc[0, "value"]))]
        rows += _category_rows("LongEmbed", _count("Average", len(tasks)), ours, ref, tol)
    return rows


def categories_frame(runs: Iterable[Run], published: Published, tolerance: float) -> pd.DataFrame:
    """v3's category averages (MTEB(eng, v1), LongEmbed), compared where all tasks are present.

    Multilingual averages are listed without ours: their source does not define the task set.
    """
    by_task = {run.task: run for run in v3_runs(runs) if not run.capped}
    rows = _eng_rows(by_task, published, tolerance) + _longembed_rows(by_task, published, tolerance)
    for figure in published.v3_figures("MTEB multilingual").itertuples():
        rows.append(
            dict.fromkeys(CATEGORY_COLUMNS)
            | {"benchmark": "MTEB multilingual", "category": figure.figure, "ours": "not computed"}
            | {"reference": _source_label(figure.source), "published": float(figure.value)}
            | {"note": "task set not defined by the source: not computed"}
        )
    return pd.DataFrame(rows, columns=CATEGORY_COLUMNS)
