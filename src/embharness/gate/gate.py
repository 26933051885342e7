"""``embharness gate``: compare current results with a committed baseline, cell by cell.

Δ = (now − baseline) × 100 points, from mteb's main scores. Every cell whose baseline and
current run both have per-item scores also gets the paired bootstrap CI of Δ and a paired
randomization p-value (``results.paired``), Holm-adjusted over all such gated cells.

Modes (the verdict of a cell present on both sides):

* ``tolerance``: *regressed* when Δ < −tolerance, *improved* when Δ > +tolerance (passes,
  flagged), else *within tolerance*; exactly ±tolerance is within. CI and p are shown only.
* ``significance``: *regressed* only where Δ < −tolerance **and** the Holm-adjusted p ≤ alpha;
  *improved* where Δ > +tolerance and significant; else *within noise*. A cell without per-item
  scores on either side is judged by tolerance (its note says so). Needs a version-2 baseline.

A baseline cell absent from the results is *missing* (fails unless ``allow_missing``); a
result absent from the baseline is *new* (informational).

A cell whose task data changed (both sides name a dataset revision, and they differ: the stdlib
task's is the Python version) is still judged, and its note says so; when such a cell fails,
the summary line names the fix (a baseline written from the same data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from embharness.errors import HarnessError
from embharness.gate.baseline import Cell, current_cells, load_baseline
from embharness.gate.table import fixed_width
from embharness.results.paired import (
    DEFAULT_ALPHA,
    DEFAULT_RESAMPLES,
    SEED,
    PairedRow,
    check_alpha,
    compare_pairs,
    data_noted,
    fmt_ci_points,
    fmt_p,
    method_phrase,
)
from embharness.results.runs import DEFAULT_EXPERIMENT
from embharness.results.scoring import (
    DEFAULT_TOLERANCE,
    check_tolerance,
    fmt_delta,
    points,
)

TOLERANCE, SIGNIFICANCE = "tolerance", "significance"
MODES = (TOLERANCE, SIGNIFICANCE)
REGRESSED, IMPROVED, MISSING, NEW = "regressed", "improved", "missing", "new"
WITHIN_NOISE, WITHIN_TOLERANCE = "within noise", "within tolerance"
OK = WITHIN_TOLERANCE  # the tolerance-mode pass verdict (called "ok" before significance mode)
VERDICTS = (REGRESSED, MISSING, IMPROVED, WITHIN_NOISE, WITHIN_TOLERANCE, NEW)
HEADER = (
    "verdict", "model", "experiment", "task", "split", "subset", "baseline", "now", "Δ",
    "95% CI of Δ", "p", "p (Holm)", "tol", "note",
)  # fmt: skip


@dataclass(frozen=True)
class GateOptions:
    """How cells are judged (tolerances in points)."""

    tolerance: float = DEFAULT_TOLERANCE
    per_task: dict[str, float] = field(default_factory=dict)
    mode: str = TOLERANCE
    alpha: float = DEFAULT_ALPHA
    n_resamples: int = DEFAULT_RESAMPLES

    def tolerance_of(self, task: str) -> float:
        """The task's tolerance (per-task file first, else the global one)."""
        return self.per_task.get(task, self.tolerance)


@dataclass(frozen=True)
class GateRow:
    """The verdict on one cell; scores, Δ and its CI in points."""

    cell: Cell
    baseline: float | None
    now: float | None
    delta: float | None
    tolerance: float
    verdict: str
    ci: tuple[float, float] | None = None
    p: float | None = None
    p_holm: float | None = None
    note: str = ""
    method: str = ""  # the bootstrap interval's method (BCa or percentile), "" without a test
    data_change: str = ""  # "A → B" where the two sides' task data (dataset revision) differ


def check_mode(mode: str) -> str:
    """Validate a gate mode."""
    if mode not in MODES:
        raise HarnessError(f"unknown gate mode {mode!r}", f"use one of {', '.join(MODES)}")
    return mode


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


def _by_tolerance(delta: float, tolerance: float) -> str:
    if delta < -tolerance:
        return REGRESSED
    return IMPROVED if delta > tolerance else WITHIN_TOLERANCE


def _by_significance(delta: float, tolerance: float, paired: PairedRow, alpha: float) -> str:
    significant = paired.p_holm is not None and paired.p_holm <= alpha
    if significant and delta < -tolerance:
        return REGRESSED
    return IMPROVED if significant and delta > tolerance else WITHIN_NOISE


def _note(paired: PairedRow, tolerance: float, options: GateOptions) -> str:
    """Why a cell has no test, or where Δ and significance disagree."""
    if paired.test is None:
        why = paired.note or paired.verdict
        return f"{why}; judged by tolerance" if options.mode == SIGNIFICANCE else why
    significant = paired.p_holm is not None and paired.p_holm <= options.alpha
    beyond = paired.delta is not None and abs(paired.delta) > tolerance
    if beyond and not significant:
        return f"beyond tolerance, not significant at {options.alpha:g}"
    return ""


def _judge(paired: PairedRow, options: GateOptions) -> GateRow:
    base, now = paired.a, paired.b
    assert base is not None and now is not None and paired.delta is not None
    tol = options.tolerance_of(base.task)
    if options.mode == SIGNIFICANCE and paired.test is not None:
        verdict = _by_significance(paired.delta, tol, paired, options.alpha)
    else:
        verdict = _by_tolerance(paired.delta, tol)
    note = data_noted(paired.data_change, _note(paired, tol, options))
    return GateRow(
        base, points(base.score), points(now.score), paired.delta, tol, verdict,
        paired.ci, paired.p, paired.p_holm, note,
        paired.test.delta.method if paired.test else "", paired.data_change,
    )  # fmt: skip


def compare_cells(
    baseline: Iterable[Cell],
    current: Iterable[Cell],
    tolerance: float,
    per_task: dict[str, float],
    options: GateOptions | None = None,
) -> list[GateRow]:
    """A GateRow for every baseline cell, then one for every new cell.

    ``options`` gives the mode, alpha and resamples (default: tolerance mode); ``tolerance``
    and ``per_task`` replace its tolerances.
    """
    options = replace(options or GateOptions(), tolerance=tolerance, per_task=per_task)
    check_mode(options.mode)
    now = {cell.key: cell for cell in current}
    baseline = list(baseline)
    present = [(cell.key, cell, now[cell.key]) for cell in baseline if cell.key in now]
    paired = compare_pairs(
        present, alpha=options.alpha, n_resamples=options.n_resamples, names=("baseline", "now")
    )
    judged = {row.key: _judge(row, options) for row in paired}
    rows = [
        judged.get(cell.key)
        or GateRow(cell, points(cell.score), None, None, options.tolerance_of(cell.task), MISSING)
        for cell in baseline
    ]
    seen = {cell.key for cell in baseline}
    for key, cell in now.items():
        if key not in seen:
            tol = options.tolerance_of(cell.task)
            rows.append(GateRow(cell, None, points(cell.score), None, tol, NEW))
    return rows


def exit_code(rows: Iterable[GateRow], allow_missing: bool) -> int:
    """1 when any cell regressed or (unless allowed) went missing, else 0."""
    failing = {REGRESSED} if allow_missing else {REGRESSED, MISSING}
    return int(any(row.verdict in failing for row in rows))


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _line(r: GateRow) -> tuple[str, ...]:
    cell = r.cell
    return (
        r.verdict, cell.model, cell.experiment or DEFAULT_EXPERIMENT, cell.task, cell.split,
        cell.subset, _fmt(r.baseline), _fmt(r.now), fmt_delta(r.delta), fmt_ci_points(r.ci),
        fmt_p(r.p), fmt_p(r.p_holm), f"{r.tolerance:g}", r.note,
    )  # fmt: skip


def format_table(rows: list[GateRow]) -> str:
    """A fixed-width text table of every row."""
    return fixed_width(HEADER, [_line(r) for r in rows])


def method_line(rows: list[GateRow], options: GateOptions) -> str:
    """One line on how the CI and p columns were computed (or why they are empty)."""
    tested = sum(r.p is not None for r in rows)
    if not tested:
        return "CI and p: no cell has per-item scores on both sides (Δ only)"
    used = method_phrase(r.method for r in rows if r.method)
    return (
        f"CI: 95% paired bootstrap of Δ over each cell's items ({used}; "
        f"{options.n_resamples:,} resamples, seed {SEED}); p: paired randomization test, "
        f"two-sided; p (Holm): adjusted over the {tested} cells with per-item scores on both sides"
    )


def summary(rows: list[GateRow], code: int, options: GateOptions) -> str:
    """One line: pass/fail, the count of each verdict and the rule applied."""
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    parts = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    rule = f"tolerance {options.tolerance:g} points"
    if options.mode == SIGNIFICANCE:
        rule = (
            f"significance mode: a drop fails when it exceeds {options.tolerance:g} points and "
            f"its Holm-adjusted p ≤ {options.alpha:g}"
        )
    line = f"gate: {'FAIL' if code else 'PASS'} — {parts or 'no cells'} ({rule})"
    changed = sum(r.verdict == REGRESSED and bool(r.data_change) for r in rows)
    if changed:
        line += (
            f"; {changed} regressed cell(s) were scored on other task data than the baseline "
            "(see their notes) — fix: gate against a baseline written from the same data "
            "(`embharness gate --write-baseline`; the offline suite keeps one per Python version)"
        )
    return line


def run_gate(
    results_dir: Path,
    baseline_path: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    tolerances_path: Path | None = None,
    allow_missing: bool = False,
    echo: Callable[[str], None] = print,
    *,
    mode: str = TOLERANCE,
    alpha: float = DEFAULT_ALPHA,
    n_resamples: int = DEFAULT_RESAMPLES,
) -> int:
    """Compare, print the table, the method line and a summary with ``echo``; the exit code."""
    options = GateOptions(
        check_tolerance(tolerance), load_tolerances(tolerances_path), check_mode(mode),
        check_alpha(alpha), n_resamples,
    )  # fmt: skip
    baseline = load_baseline(baseline_path)
    if mode == SIGNIFICANCE and baseline.version < 2:
        raise HarnessError(
            f"baseline {baseline_path} is version {baseline.version}, without per-item scores, "
            "so significance mode cannot test it",
            f"rewrite it: `embharness gate --write-baseline --baseline {baseline_path} "
            "--results DIR`, or pass --mode tolerance",
        )
    current = current_cells(results_dir)
    rows = compare_cells(baseline.cells, current, options.tolerance, options.per_task, options)
    code = exit_code(rows, allow_missing)
    echo(format_table(rows))
    echo(method_line(rows, options))
    echo(summary(rows, code, options))
    return code
