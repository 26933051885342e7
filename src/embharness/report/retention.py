"""Score retention of the precision grid: each (dim, precision) point ÷ float32 at full dim.

Rows come from the grid's experiment folders (``run/grid.py``): a run's ``precision`` experiment
kwarg names its precision, no such kwarg means float32. Retention is taken per model and task
against the float32 full-dim run with the same other settings (sample cap, ...). The Pareto
front: points no other point of the same model and task beats on both bytes per vector (fewer)
and retention (higher). Published anchors (``data/quantization_anchors.csv``) stand beside ours.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from embharness.encoding.quantize import bytes_per_vector
from embharness.report.document import Section, Table
from embharness.results.runs import Run

GRID_KWARGS = {"precision", "rescore_top_k", "embed_dim"}
COLUMNS = ["model", "task", "dim", "precision", "bytes", "score", "retention", "pareto"]


def load_anchors() -> pd.DataFrame:
    """The published retention figures with their sources."""
    data = resources.files("embharness") / "data" / "quantization_anchors.csv"
    with resources.as_file(data) as path:
        return pd.read_csv(path)


def _base(run: Run) -> tuple[Any, ...]:
    rest = {k: v for k, v in run.kwargs.items() if k not in GRID_KWARGS}
    return (run.model, run.revision, run.task, tuple(sorted(rest.items())))


def retention_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per grid point (columns ``COLUMNS``); empty without any grid point."""
    precision_of = {id(r): str(r.kwargs.get("precision", "float32")) for r in runs}
    if set(precision_of.values()) <= {"float32"}:
        return pd.DataFrame(columns=COLUMNS)
    full = {
        _base(r): r.score()
        for r in runs
        if precision_of[id(r)] == "float32" and r.dim in (None, r.full_dim)
    }
    rows = []
    for run in runs:
        reference = full.get(_base(run))
        if reference is None or run.dim is None:
            continue
        precision = precision_of[id(run)]
        rows.append(
            {
                "model": run.model,
                "task": run.task,
                "dim": run.dim,
                "precision": precision,
                "bytes": bytes_per_vector(precision, run.dim),
                "score": 100 * run.score(),
                "retention": run.score() / reference if reference else float("nan"),
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS[:-1])
    frame["pareto"] = _pareto(frame)
    return frame.sort_values(["model", "task", "bytes", "retention"], ascending=[1, 1, 0, 0])


def _pareto(frame: pd.DataFrame) -> list[bool]:
    """True where no point of the same model and task has fewer-or-equal bytes and higher
    retention, or fewer bytes and equal retention."""
    marks = []
    for _, row in frame.iterrows():
        same = frame[(frame["model"] == row["model"]) & (frame["task"] == row["task"])]
        beaten = (
            (same["bytes"] <= row["bytes"])
            & (same["retention"] >= row["retention"])
            & ((same["bytes"] < row["bytes"]) | (same["retention"] > row["retention"]))
        )
        marks.append(not bool(beaten.any()))
    return marks


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["bytes"] = shown["bytes"].map(lambda b: f"{b:g}")
    shown["score"] = shown["score"].map(lambda s: f"{s:.2f}")
    shown["retention"] = shown["retention"].map(lambda r: f"{100 * r:.1f} %")
    shown["pareto"] = shown["pareto"].map(lambda p: "★" if p else "")
    return shown.astype(str)


def anchors_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Our full-dim retention per precision (mean over tasks) beside the published figures."""
    rows = []
    for _, anchor in load_anchors().iterrows():
        ours = frame[(frame["precision"] == anchor["precision"]) & frame["bytes"].gt(0)]
        ours = ours[ours["dim"] == ours.groupby("task")["dim"].transform("max")]
        low, high = anchor["retention_low"], anchor["retention_high"]
        published = f"{100 * low:.0f} %" if low == high else f"{100 * low:.0f}–{100 * high:.0f} %"
        mean = f"{100 * ours['retention'].mean():.1f} %" if len(ours) else "—"
        rows.append([anchor["precision"], mean, published, anchor["source"]])
    columns = ["precision", "ours (full dim, mean over tasks)", "published", "source"]
    return pd.DataFrame(rows, columns=columns)


def retention_section(runs: list[Run], plots_dir: Path | None = None) -> list[Section]:
    """The report's "Precision grid" section, or nothing without grid points."""
    frame = retention_frame(runs)
    if frame.empty:
        return []
    tables = [
        Table(_shown(frame), "Score retention (point ÷ float32 at full dim) against bytes"),
        Table(anchors_table(frame).astype(str), "Published sanity anchors beside ours"),
    ]
    made = [retention_plot(frame, plots_dir)] if plots_dir is not None else []
    note = "★: on the Pareto front (no point has fewer bytes and higher retention)."
    return [Section("Precision grid", paragraphs=[note], tables=tables, plots=made)]


def retention_plot(frame: pd.DataFrame, folder: Path) -> Any:
    """Retention against bytes per vector (log x), one panel line per task, front marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from embharness.report.plots import _save

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (_model, task), rows in frame.groupby(["model", "task"]):
        ax.scatter(rows["bytes"], 100 * rows["retention"], s=14, label=f"{task}")
        front = rows[rows["pareto"]].sort_values("bytes")
        ax.plot(front["bytes"], 100 * front["retention"], drawstyle="steps-post", lw=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per vector")
    ax.set_ylabel("retention (% of float32, full dim)")
    ax.legend(fontsize=7)
    plot = _save(fig, folder, "precision_retention", "Score retention against bytes per vector")
    plt.close(fig)
    return plot
