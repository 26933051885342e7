"""``embharness gate``: compare current results with a committed baseline, cell by cell.

Δ = (now − baseline) × 100 points. A cell *regresses* when Δ < −tolerance, is *improved*
when Δ > +tolerance (passes, flagged) and is *ok* otherwise; exactly ±tolerance is ok. A
baseline cell absent from the results is *missing* (fails unless ``allow_missing``); a
result absent from the baseline is *new* (informational).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from embharness.errors import HarnessError
from embharness.gate.baseline import Cell, current_cells, read_baseline
from embharness.results.runs import DEFAULT_EXPERIMENT
from embharness.results.scoring import (
    DEFAULT_TOLERANCE,
    check_tolerance,
    delta_points,
    fmt_delta,
    points,
)

OK, REGRESSED, IMPROVED, MISSING, NEW = "ok", "regressed", "improved", "missing", "new"
HEADER = (
    "verdict",
    "model",
    "experiment",
    "task",
    "split",
    "subset",
    "baseline",
    "now",
    "Δ",
    "tol",
)


@dataclass(frozen=True)
class GateRow:
    """The verdict on one cell; scores and Δ in points."""

    cell: Cell
    baseline: float | None
    now: float | None
    delta: float | None
    tolerance: float
    verdict: str


def load_tolerances(path: Path | None) -> dict[str, float]:
    """Per-task tolerances (points) from YAML or JSON: ``{task: points}`` or ``{tasks: {…}}``."""
    if path is None:
        return {}
    fix = "write a mapping of task name to tolerance in points, e.g. `CosQA: 1.0`"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"cannot read tolerances file {path}: {exc}", fix) from exc
    if isinstance(data, dict) and isinstance(data.get("tasks"), dict):
        data = data["tasks"]
    if not isinstance(data, dict):
        raise HarnessError(f"tolerances file {path} is not a mapping", fix)
    try:
        return {str(task): check_tolerance(value) for task, value in data.items()}
    except (TypeError, ValueError) as exc:
        raise HarnessError(f"tolerances file {path} has a non-numeric value", fix) from exc


def _verdict(delta: float, tolerance: float) -> str:
    if delta < -tolerance:
        return REGRESSED
    return IMPROVED if delta > tolerance else OK


def compare_cells(
    baseline: Iterable[Cell], current: Iterable[Cell], tolerance: float, per_task: dict[str, float]
) -> list[GateRow]:
    """A GateRow for every baseline cell, then one for every new cell."""
    now = {cell.key: cell for cell in current}
    rows, seen = [], set()
    for cell in baseline:
        tol = per_task.get(cell.task, tolerance)
        seen.add(cell.key)
        found = now.get(cell.key)
        if found is None:
            rows.append(GateRow(cell, points(cell.score), None, None, tol, MISSING))
            continue
        delta = delta_points(points(found.score), points(cell.score))
        rows.append(
            GateRow(cell, points(cell.score), points(found.score), delta, tol, _verdict(delta, tol))
        )
    for key, cell in now.items():
        if key not in seen:
            tol = per_task.get(cell.task, tolerance)
            rows.append(GateRow(cell, None, points(cell.score), None, tol, NEW))
    return rows


def exit_code(rows: Iterable[GateRow], allow_missing: bool) -> int:
    """1 when any cell regressed or (unless allowed) went missing, else 0."""
    failing = {REGRESSED} if allow_missing else {REGRESSED, MISSING}
    return int(any(row.verdict in failing for row in rows))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def format_table(rows: list[GateRow]) -> str:
    """A fixed-width text table of every row."""
    body = [
        (
            r.verdict,
            r.cell.model,
            r.cell.experiment or DEFAULT_EXPERIMENT,
            r.cell.task,
            r.cell.split,
            r.cell.subset,
            _fmt(r.baseline),
            _fmt(r.now),
            fmt_delta(r.delta),
            f"{r.tolerance:g}",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(HEADER, *body, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (HEADER, *body)
    ]
    return "\n".join(lines)


def summary(rows: list[GateRow], code: int, tolerance: float) -> str:
    """One line: pass/fail and the count of each verdict."""
    counts = {v: sum(r.verdict == v for r in rows) for v in (REGRESSED, MISSING, IMPROVED, OK, NEW)}
    parts = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    verdict = "FAIL" if code else "PASS"
    return f"gate: {verdict} — {parts or 'no cells'} (tolerance {tolerance:g} points)"


def run_gate(
    results_dir: Path,
    baseline_path: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    tolerances_path: Path | None = None,
    allow_missing: bool = False,
    echo: Callable[[str], None] = print,
) -> int:
    """Compare, print the table and a summary with ``echo``, and return the exit code."""
    tolerance = check_tolerance(tolerance)
    per_task = load_tolerances(tolerances_path)
    baseline, _ = read_baseline(baseline_path)
    rows = compare_cells(baseline, current_cells(results_dir), tolerance, per_task)
    code = exit_code(rows, allow_missing)
    echo(format_table(rows))
    echo(summary(rows, code, tolerance))
    return code
