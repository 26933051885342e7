"""Our task scores next to the published ones: the model × task comparison table.

The reference is Table 2 of the jina-code-embeddings paper (``paper``) for its six models, and
the public MTEB results repository (``mteb-results``) for jina-embeddings-v3, averaged over
exactly the split × subset cells our result has. Capped runs and incomplete tasks are shown but
never compared.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from embharness.report.published import MTEB_RESULTS, PAPER, V3_MODEL, V3_REVISION, Published
from embharness.results.runs import Run
from embharness.results.scoring import delta_points, points, within_tolerance

DEFAULT_EXPERIMENT = "default"
COLUMNS = [
    "model",
    "revision",
    "experiment",
    "dim",
    "max_samples",
    "task",
    "task_type",
    "ours",
    "published",
    "reference",
    "delta",
    "within_tolerance",
    "note",
]


@dataclass(frozen=True)
class Reference:
    """A published figure (points) and where it comes from."""

    value: float | None
    source: str
    note: str = ""


def _v3_reference(run: Run, published: Published) -> Reference | None:
    rows = published.v3_results[published.v3_results["task"] == run.task]
    if run.model != V3_MODEL or rows.empty:
        return None
    table = rows.set_index(["split", "subset"])["score"]
    keys = [(split, subset) for split, subset, _ in run.cells()]
    absent = [key for key in keys if key not in table.index]
    if absent:
        return Reference(None, MTEB_RESULTS, f"published file lacks {'/'.join(absent[0])}")
    note = "" if run.revision == V3_REVISION else f"published revision {V3_REVISION[:7]}"
    return Reference(statistics.fmean(float(table[key]) for key in keys), MTEB_RESULTS, note)


def reference_for(run: Run, published: Published) -> Reference | None:
    """The published figure our ``run`` is compared with, or None when there is none."""
    value = published.paper_score(run.model, run.task)
    if value is not None:
        return Reference(value, PAPER)
    return _v3_reference(run, published)


def _not_compared(run: Run, reference: Reference) -> str | None:
    if run.capped:
        return f"capped at {run.max_samples} samples: not compared"
    missing = run.missing_evaluations() if reference.source == PAPER else None
    if missing:
        gaps = "; ".join(f"{split}: {', '.join(sorted(s))}" for split, s in missing.items())
        return f"incomplete task (missing {gaps}): not compared"
    return None


def experiment_label(run: Run) -> str:
    """The experiment folder name, ``default`` for the full-dimension default run."""
    return run.experiment or DEFAULT_EXPERIMENT


def _base_row(run: Run, note: str) -> dict[str, Any]:
    return {
        "model": run.model,
        "revision": run.revision,
        "experiment": experiment_label(run),
        "dim": run.dim,
        "max_samples": run.max_samples,
        "task": run.task,
        "task_type": run.task_type,
        "ours": points(run.score()),
        "published": None,
        "reference": None,
        "delta": None,
        "within_tolerance": None,
        "note": note,
    }


def run_marks(run: Run) -> list[str]:
    """What a reader must know about how a run was made: dtype and harness-chosen prompts."""
    marks = [run.precision_note] if run.precision_note else []
    marks += [f"harness-chosen prompt, {choice}" for choice in run.harness_chosen_prompts()]
    return marks


def compare_run(run: Run, published: Published, tolerance: float) -> dict[str, Any]:
    """One row of the comparison table for ``run`` (a full-dimension run)."""
    row = _base_row(run, "no published figure")
    reference = reference_for(run, published)
    if reference is not None:
        row.update(published=reference.value, reference=reference.source, note=reference.note)
        reason = _not_compared(run, reference)
        if reason:
            row["note"] = "; ".join(filter(None, [reason, reference.note]))
        elif reference.value is not None:
            row["delta"] = delta_points(row["ours"], reference.value)
            row["within_tolerance"] = within_tolerance(row["delta"], tolerance)
    row["note"] = "; ".join(filter(None, [row["note"], *run_marks(run)]))
    return row


def _missing_paper_rows(runs: list[Run], published: Published) -> list[dict[str, Any]]:
    """Table 2 benchmarks a paper model has no full, uncapped result for (shown as missing)."""
    have: dict[tuple[str, str], set[str]] = {}
    for run in runs:
        if run.kind == "full" and not run.capped:
            have.setdefault((run.model, run.revision), set()).add(run.task)
    rows = []
    for (model, revision), tasks in have.items():
        column = published.paper_column(model)
        for benchmark, task in published.overall_cells() if column else []:
            if task in tasks:
                continue
            value = float(published.table2.set_index("benchmark").loc[benchmark, column])
            rows.append(
                {
                    "model": model,
                    "revision": revision,
                    "experiment": DEFAULT_EXPERIMENT,
                    "task": task or benchmark,
                    "published": value,
                    "reference": PAPER,
                    "note": "missing: no result" if task else "missing: not in mteb",
                }
            )
    return rows


def comparison_frame(runs: Iterable[Run], published: Published, tolerance: float) -> pd.DataFrame:
    """Full-dimension runs (default and capped) against the published figures.

    Table 2 benchmarks that a paper model has no result for appear with ``ours`` empty.
    """
    runs = [run for run in runs if run.kind == "full"]
    rows = [compare_run(run, published, tolerance) for run in runs]
    rows += _missing_paper_rows(runs, published)
    frame = pd.DataFrame(rows, columns=COLUMNS).astype(object)
    frame = frame.where(frame.notna(), None)
    return frame.sort_values(["model", "revision", "experiment", "task"], ignore_index=True)


def scores_frame(runs: Iterable[Run], published: Published, tolerance: float) -> pd.DataFrame:
    """Every result (all experiments) for ``scores.csv``; only full-dimension runs compared."""
    runs = list(runs)
    notes = {
        "dim": "Matryoshka dimension: no published figure",
        "other": "experiment: not compared",
    }
    extra = [_base_row(run, notes[run.kind]) for run in runs if run.kind != "full"]
    frame = comparison_frame(runs, published, tolerance)
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra, columns=COLUMNS)], ignore_index=True)
    frame = frame.sort_values(["model", "revision", "experiment", "task"], ignore_index=True)
    return frame.astype({"dim": "Int64", "max_samples": "Int64"})
