"""Points, deltas and tolerance checks shared by the report and the gate.

Scores are stored as 0–1 fractions (mteb's main score) and shown as points (×100). Deltas are
rounded to 6 decimals so that a difference of exactly the tolerance is judged as such instead
of by floating-point noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from embharness.errors import HarnessError

DEFAULT_TOLERANCE = 0.5


def points(fraction: float) -> float:
    """A 0–1 score in points (percent)."""
    return fraction * 100


def delta_points(ours: float, reference: float) -> float:
    """``ours - reference`` in points, rounded to 6 decimals."""
    return round(ours - reference, 6)


def within_tolerance(delta: float, tolerance: float) -> bool:
    """True when ``|delta| <= tolerance`` (both in points)."""
    return abs(delta) <= tolerance


def check_tolerance(tolerance: float) -> float:
    """Validate a tolerance in points; returns it as a float."""
    value = float(tolerance)
    if math.isnan(value) or value < 0:
        raise HarnessError(f"tolerance {tolerance} is invalid", "pass a number of points >= 0")
    return value


def fmt_points(value: float | None) -> str:
    """A score in points with two decimals, ``—`` for a missing value."""
    return "—" if value is None or math.isnan(value) else f"{value:.2f}"


def fmt_delta(value: float | None) -> str:
    """A signed delta in points, ``—`` when there is none."""
    return "—" if value is None or math.isnan(value) else f"{value:+.2f}"


@dataclass(frozen=True)
class Comparison:
    """Ours vs a reference value: the delta (points), whether it is within tolerance, a note."""

    delta: float | None
    within_tolerance: bool | None
    note: str


def compare(
    ours: float | None, reference: float | None, tolerance: float, reason: str | None = None
) -> Comparison:
    """Compare ``ours`` with ``reference`` (points) unless ``reason`` says why not.

    A missing value on either side, or a ``reason`` (capped, partial…), gives no delta and the
    reason as the note.
    """
    if reason or ours is None or reference is None:
        return Comparison(None, None, reason or "")
    delta = delta_points(ours, reference)
    return Comparison(delta, within_tolerance(delta, tolerance), "")
