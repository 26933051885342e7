"""Fixed-width text tables for the gate and ``embharness diff``."""

from __future__ import annotations

from collections.abc import Sequence


def fixed_width(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, trailing blanks stripped, one line per row."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *body, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]
    return "\n".join(lines)
