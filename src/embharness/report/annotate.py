"""Our scores with their CIs in one table (``66.50 ± 3.60``), and that table's footnote.

A ``TableNotes`` formats every score of one table: ``score ± half-width`` where the score has a
CI (``results.stats.fmt_pm``), else the score and a mark (``†``, ``‡``…) whose footnote line
gives the reason. ``footnote()`` is the table's one footnote: the CI method (``stats.footnote``
word for word when every interval of the table was made alike, else a general line), the marks,
and, where the table has them, that published figures and averages carry no CI.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import pandas as pd

from embharness.report.intervals import CI, Cell, Intervals, RunKey, row_key
from embharness.results.scoring import fmt_points
from embharness.results.stats import PLURALS, Interval, fmt_ci, fmt_pm, footnote

SYMBOLS = ("†", "‡", "§", "¶", "‖")
PUBLISHED = "Published figures have no CIs (the sources give none)."
AVERAGES = (
    "Averages over tasks have no CI: they are shown as computed, without ± (combining the "
    "tasks' intervals would need assumptions the report does not make)."
)


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _units(intervals: Iterable[Interval]) -> str:
    units = sorted({i.unit for i in intervals})
    return " or ".join(PLURALS.get(unit, f"{unit}s") for unit in units)


def _strata(intervals: list[Interval]) -> str:
    several = {i.n_groups > 1 for i in intervals}
    if several == {True}:
        return ", stratified by split/subset"
    return ", stratified by split/subset where there are several" if True in several else ""


class TableNotes:
    """Formats our scores for one table and collects what its footnote must say."""

    def __init__(self, intervals: Intervals | None) -> None:
        self.intervals = intervals
        self.shown: list[tuple[RunKey, Interval]] = []
        self.marks: dict[str, str] = {}

    def mark(self, reason: str) -> str:
        """The symbol of ``reason`` in this table (a new one for a new reason)."""
        if reason not in self.marks:
            n = len(self.marks)
            self.marks[reason] = SYMBOLS[n % len(SYMBOLS)] * (1 + n // len(SYMBOLS))
        return self.marks[reason]

    def ci(self, key: RunKey, cell: Cell | None = None) -> CI | None:
        """The CI of a run (or of one of its cells); None when the table has no intervals."""
        if self.intervals is None:
            return None
        return self.intervals.task(key) if cell is None else self.intervals.cell(key, cell)

    def score(self, key: RunKey, value: float | None, cell: Cell | None = None) -> str:
        """``66.50 ± 3.60``, ``66.50†`` (no CI, reason in the footnote) or ``—`` (missing)."""
        if value is None or math.isnan(value):
            return fmt_points(None)
        text = fmt_points(value)
        found = self.ci(key, cell)
        if found is None:
            return text
        if found.interval is None:
            return text + self.mark(found.reason)
        self.shown.append((key, found.interval))
        return fmt_pm(dataclasses.replace(found.interval, point=value / 100), decimals=2)

    def ours(self, frame: pd.DataFrame, column: str = "ours") -> pd.DataFrame:
        """``frame`` with ``column`` (points) formatted per row; missing values stay None."""
        out = frame.copy()
        texts = [
            None if _missing(value) else self.score(row_key(row), float(value))
            for (_, row), value in zip(frame.iterrows(), frame[column], strict=True)
        ]
        out[column] = pd.Series(texts, index=frame.index, dtype=object)  # None stays None
        return out

    def method_line(self) -> str:
        """How the intervals of this table were made (one line), or ``""`` when none."""
        intervals = [interval for _, interval in self.shown]
        if not intervals:
            return ""
        alike = {dataclasses.replace(i, metric="", point=0, low=0, high=0) for i in intervals}
        if len(alike) == 1:
            return footnote(intervals[0])
        first, sizes = intervals[0], sorted({i.n for i in intervals})
        methods = " or ".join(sorted({i.method for i in intervals}))
        count = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,}–{sizes[-1]:,}"
        line = (
            f"{first.confidence:.0%} CI of each score: {methods} bootstrap over its {count} "
            f"{_units(intervals)} ({first.n_resamples:,} resamples, seed {first.seed}"
            f"{_strata(intervals)}); ± is half the interval width"
        )
        for note in sorted({i.note for i in intervals if i.note}):
            tasks = sorted({key[3] for key, i in self.shown if i.note == note})
            line += f"; {', '.join(tasks)}: {note}"
        return line

    def footnote(self, *, published: bool = False, averages: bool = False) -> list[str]:
        """The table's footnote lines: method, marks, and what carries no CI."""
        lines = [self.method_line()] if self.shown else []
        lines += [f"{symbol} {reason}" for reason, symbol in self.marks.items()]
        if averages:
            lines.append(AVERAGES)
        if published:
            lines.append(PUBLISHED)
        return lines


def ci_columns(frame: pd.DataFrame, intervals: Intervals) -> pd.DataFrame:
    """``frame`` (rows with the run key and ``ours``) plus the CI of ``ours`` for a CSV.

    ``ci_low``/``ci_high`` in points, ``ci`` as ``[62.90, 70.10]``, ``ci_method`` and
    ``ci_note`` (the method's note, or why there is no interval).
    """
    rows = []
    for _, row in frame.iterrows():
        found = None if _missing(row.get("ours")) else intervals.task(row_key(row))
        interval = found.interval if found else None
        rows.append(
            {
                "ci_low": interval.low * 100 if interval else None,
                "ci_high": interval.high * 100 if interval else None,
                "ci": fmt_ci(interval, decimals=2) if interval else None,
                "ci_method": interval.method if interval else None,
                "ci_note": (interval.note if interval else found.reason) if found else None,
            }
        )
    return pd.concat([frame, pd.DataFrame(rows, index=frame.index)], axis=1)
