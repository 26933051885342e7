"""``embharness diff``: every common cell of two selections, with Δ, its CI and p-values.

Δ = (B − A) × 100 points from mteb's main scores; the CI is the 95% paired bootstrap CI of Δ
over the cell's items and p the paired randomization test (``results.paired``), Holm-adjusted
over every common cell that has per-item scores on both sides. Rows are sorted by significance
(Holm-adjusted p, then p, then the larger |Δ|); cells without per-item scores come last with Δ
only. Selectors and pairing: ``gate.select``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embharness.atomic import atomic_write_file
from embharness.gate.select import Side, pair_sides, parse_selector, resolve
from embharness.gate.table import fixed_width
from embharness.results.paired import (
    SEED,
    PairedRow,
    ScoredCell,
    compare_pairs,
    fmt_ci_points,
    fmt_p,
    method_phrase,
    significance_order,
)
from embharness.results.runs import DEFAULT_EXPERIMENT
from embharness.results.scoring import fmt_delta, fmt_points, points

CSV_COLUMNS = (
    "task", "split", "subset", "a_model", "a_revision", "a_experiment", "b_model",
    "b_revision", "b_experiment", "metric", "n_items", "unit", "a_score", "b_score", "delta",
    "ci_low", "ci_high", "p", "p_holm", "verdict", "note",
)  # fmt: skip


@dataclass(frozen=True)
class Diff:
    """The compared sides, their common cells (sorted by significance) and what only one has."""

    a: Side
    b: Side
    rows: list[PairedRow]
    only_a: int
    only_b: int
    alpha: float
    n_resamples: int

    @property
    def pinned(self) -> bool:
        """True when both sides are single model variants (cells paired by task)."""
        return self.a.pinned and self.b.pinned


def build_diff(a: str, b: str, default_folder: Path, *, alpha: float, n_resamples: int) -> Diff:
    """Resolve both selectors, pair their cells and compare every common one."""
    side_a = resolve(parse_selector(a, default_folder))
    side_b = resolve(parse_selector(b, default_folder))
    pairs, only_a, only_b = pair_sides(side_a, side_b)
    rows = compare_pairs(pairs, alpha=alpha, n_resamples=n_resamples)
    rows = sorted(rows, key=significance_order)
    return Diff(side_a, side_b, rows, only_a, only_b, alpha, n_resamples)


def _experiment(cell: ScoredCell | None) -> str:
    return "" if cell is None else cell.experiment or DEFAULT_EXPERIMENT


def _round(value: float) -> float:
    """Points to 6 decimals (as the gate rounds Δ), so the CSV carries no float noise."""
    return round(value, 6)


def _csv_row(row: PairedRow) -> dict[str, object]:
    a, b, test = row.a, row.b, row.test
    assert a is not None and b is not None
    ci = row.ci
    return {
        "task": a.task, "split": a.split, "subset": a.subset,
        "a_model": a.model, "a_revision": a.revision, "a_experiment": _experiment(a),
        "b_model": b.model, "b_revision": b.revision, "b_experiment": _experiment(b),
        "metric": test.metric if test else a.metric,
        "n_items": row.n_items, "unit": test.delta.unit if test else None,
        "a_score": _round(points(a.score)), "b_score": _round(points(b.score)),
        "delta": row.delta, "ci_low": _round(ci[0]) if ci else None,
        "ci_high": _round(ci[1]) if ci else None,
        "p": row.p, "p_holm": row.p_holm, "verdict": row.verdict, "note": row.noted,
    }  # fmt: skip


def diff_frame(diff: Diff) -> pd.DataFrame:
    """One row per common cell (points; p-values as fractions), in the printed order."""
    return pd.DataFrame([_csv_row(row) for row in diff.rows], columns=list(CSV_COLUMNS))


def display_columns(diff: Diff) -> tuple[str, ...]:
    """The printed table's header."""
    variant = ("A run", "B run") if diff.pinned else ("model", "experiment")
    tail = ("A", "B", "Δ", "95% CI of Δ", "p", "p (Holm)", "verdict", "note")
    return (*variant, "task", "split", "subset", "items", *tail)


def _display(row: PairedRow, pinned: bool) -> tuple[str, ...]:
    a, b = row.a, row.b
    assert a is not None and b is not None
    variant = (_experiment(a), _experiment(b)) if pinned else (a.model, _experiment(a))
    items = "—" if row.n_items is None else str(row.n_items)
    return (
        *variant, a.task, a.split, a.subset, items, fmt_points(points(a.score)),
        fmt_points(points(b.score)), fmt_delta(row.delta), fmt_ci_points(row.ci), fmt_p(row.p),
        fmt_p(row.p_holm), row.verdict, row.noted,
    )  # fmt: skip


def display_rows(diff: Diff) -> list[tuple[str, ...]]:
    """Every row as strings, in the printed order."""
    return [_display(row, diff.pinned) for row in diff.rows]


def intro_lines(diff: Diff) -> list[str]:
    """What was compared with what."""
    pairing = "task, split, subset, sample cap" if diff.pinned else "model, experiment, task, "
    pairing += "" if diff.pinned else "split, subset"
    return [
        f"A = {diff.a.label} ({len(diff.a.runs)} runs)",
        f"B = {diff.b.label} ({len(diff.b.runs)} runs)",
        f"cells paired by {pairing}: {len(diff.rows)} common, {diff.only_a} only in A, "
        f"{diff.only_b} only in B",
    ]


def method_line(diff: Diff) -> str:
    """How Δ, the CI and the p-values were computed."""
    used = [row.test.delta.method for row in diff.rows if row.test is not None]
    tested = len(used)
    return (
        "Δ = B − A in points (main score × 100); CI: 95% paired bootstrap of Δ over each "
        f"cell's items ({method_phrase(used)}; {diff.n_resamples:,} resamples, seed {SEED}); "
        "p: paired "
        f"randomization test, two-sided; p (Holm): adjusted over the {tested} cells with "
        "per-item scores on both sides"
    )


def summary(diff: Diff) -> str:
    """One line: how many cells differ significantly, in which direction."""
    counts: dict[str, int] = {}
    for row in diff.rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    parts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    return f"diff: {parts or 'no common cells'} (alpha {diff.alpha:g}, Holm-adjusted)"


def format_diff(diff: Diff) -> str:
    """The printed text: intro, the table, the method line and the summary."""
    table = fixed_width(display_columns(diff), display_rows(diff)) if diff.rows else ""
    return "\n".join([*intro_lines(diff), table, method_line(diff), summary(diff)])


def write_csv(diff: Diff, path: Path) -> None:
    """``diff.csv``: every common cell (atomic write)."""
    frame = diff_frame(diff)
    atomic_write_file(path, lambda tmp: frame.to_csv(tmp, index=False))
