"""What a sweep run is told and what it reports per cell: light, so the CLI can parse first.

``embharness run`` checks its flags and the sweep file before it imports the runner (torch,
mteb), so bad input fails in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embharness.run.leases import DEFAULT_TIMEOUT_S

OVERWRITE_MODES = ("missing", "always", "never")


@dataclass
class CellOutcome:
    """What happened to one cell."""

    model: str
    task: str
    dim: int
    status: str
    main_score: float | None = None
    wall_s: float = 0.0
    record: dict[str, Any] = field(default_factory=dict)
    precision: str = "float32"


@dataclass
class RunOptions:
    """Where results and cached vectors go, and when to recompute."""

    results_dir: Path
    cache_dir: Path | None
    overwrite: str = "missing"
    show_progress: bool = True
    lease_timeout_s: float = DEFAULT_TIMEOUT_S
    # Processes that score a job's cache-served cells while the runner goes on (run/score_pool.py);
    # 0: every cell in this process, one after the other.
    score_workers: int = 0
    verbose: bool = False  # --verbose: mteb's own bars, warnings and log lines (workers too)
