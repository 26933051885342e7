"""Bootstrap CIs of our scores for the report, computed at most once per run and cell.

``Intervals`` maps a run (``RunKey``: model, revision, experiment label, task, the columns every
report frame carries) to the bootstrap CI of its main score (``results.stats.bootstrap_ci`` on
the run's per-item file), and a (split, subset) cell of it to the CI of that cell alone (the
items of that group; for a one-cell run the run's own interval). Nothing is computed until a
table asks, and nothing twice. A score without an interval gets the reason instead: an old run
without a per-item file, a task type without per-item scores (the run record's
``per_item.reason``), an unreadable or stale file, or CIs switched off (``n_resamples == 0``).
``prefetch`` computes what the tables will ask for in a thread pool first (the report's
bootstraps dominate its run time).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from embharness.errors import HarnessError
from embharness.results.per_query import PerItemScores
from embharness.results.runs import Run, record_value
from embharness.results.stats import Interval, bootstrap_ci

RunKey = tuple[str, str, str, str]  # model, revision, experiment label, task
Cell = tuple[str, str]  # (split, hf_subset)
Request = tuple[RunKey, Cell | None]  # a run's CI (cell None) or one cell's
NO_FILE = "no per-item file (run before per-item scores)"
DISABLED = "CIs not computed (--resamples 0)"
STALE_TOLERANCE = 1e-5  # mteb rounds each subset to 5 decimals; the items are unrounded


@dataclass(frozen=True)
class CI:
    """What a table shows beside one of our scores: its interval, or why there is none."""

    interval: Interval | None = None
    reason: str = ""


@dataclass(frozen=True)
class CISettings:
    """How the report's intervals are made (``n_resamples == 0``: no intervals)."""

    n_resamples: int = 10_000
    method: str = "BCa"
    confidence: float = 0.95
    seed: int = 0

    @property
    def enabled(self) -> bool:
        """False when the report is built without CIs."""
        return self.n_resamples > 0


def run_key(run: Run) -> RunKey:
    """The key of ``run`` in every report frame."""
    return (run.model, run.revision, run.label, run.task)


def row_key(row: Any) -> RunKey:
    """The key of a frame row (a Series or namedtuple with the four key columns)."""
    get = row.get if hasattr(row, "get") else lambda name: getattr(row, name)
    return (str(get("model")), str(get("revision")), str(get("experiment")), str(get("task")))


def no_items_reason(run: Run) -> str:
    """Why ``run`` has no per-item file: the record's reason, a missing file, or an old run."""
    per_item = record_value(run.record, "per_item") or {}
    if per_item.get("reason"):
        return f"no per-item scores: {per_item['reason']}"
    if per_item.get("file"):
        return f"per-item file {per_item['file']} is missing"
    return NO_FILE


def _group(items: PerItemScores, cell: Cell) -> PerItemScores | None:
    rows = items.groups().get(cell)
    if rows is None:
        return None
    frame = items.frame.iloc[rows].reset_index(drop=True)
    return dataclasses.replace(items, frame=frame)


class Intervals:
    """The CIs of a report's runs, computed lazily and cached (see the module docstring)."""

    def __init__(self, runs: list[Run], settings: CISettings | None = None) -> None:
        self.settings = settings or CISettings()
        self._runs = {run_key(run): run for run in runs}
        self._items: dict[RunKey, PerItemScores | str] = {}
        self._cache: dict[Request, CI] = {}

    def task(self, key: RunKey) -> CI:
        """The CI of the run's main score (mean over its cells, as mteb's main score)."""
        return self._get(key, None)

    def cell(self, key: RunKey, cell: Cell) -> CI:
        """The CI of one (split, subset) cell of the run."""
        return self._get(key, cell)

    def prefetch(
        self, runs: Iterable[Run], cells_of: Iterable[Run] = (), workers: int | None = None
    ) -> None:
        """Compute the CIs of ``runs`` and of every cell of the multi-cell ``cells_of`` in a
        thread pool (numpy releases the GIL while resampling), before the tables ask."""
        keys, by_cell = [run_key(run) for run in runs], [run_key(run) for run in cells_of]
        for key in dict.fromkeys([*keys, *by_cell]):
            if key in self._runs:
                self._load(key)  # serially: file reads and the per-run cache
        whole: list[Request] = [(key, None) for key in keys]
        parts: list[Request] = [(key, cell) for key in by_cell for cell in self._cells(key)]
        todo = list(dict.fromkeys(r for r in whole + parts if r not in self._cache))
        with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
            for request, found in zip(todo, pool.map(self._compute_pair, todo), strict=True):
                self._cache[request] = found

    def _cells(self, key: RunKey) -> list[Cell]:
        """The (split, subset) groups of a multi-cell run's loaded items, else none."""
        items = self._items.get(key)
        groups = [] if items is None or isinstance(items, str) else list(items.groups())
        return groups if len(groups) > 1 else []

    def _compute_pair(self, request: Request) -> CI:
        return self._compute(*request)

    def _get(self, key: RunKey, cell: Cell | None) -> CI:
        if (key, cell) not in self._cache:
            self._cache[(key, cell)] = self._compute(key, cell)
        return self._cache[(key, cell)]

    def _load(self, key: RunKey) -> PerItemScores | str:
        """The run's per-item scores, or why there are none (loaded once)."""
        if key not in self._items:
            self._items[key] = self._read(self._runs[key])
        return self._items[key]

    @staticmethod
    def _read(run: Run) -> PerItemScores | str:
        try:
            items = run.items()
        except HarnessError as exc:
            return f"per-item file unreadable: {exc.problem}"
        if items is None:
            return no_items_reason(run)
        if not items.available:
            return f"no per-item scores: {items.reason}"
        return items

    def _compute(self, key: RunKey, cell: Cell | None) -> CI:
        if not self.settings.enabled:
            return CI(reason=DISABLED)
        if key not in self._runs:
            return CI(reason="no run")
        items = self._load(key)
        if isinstance(items, str):
            return CI(reason=items)
        if cell is not None and len(items.groups()) == 1 and cell in items.groups():
            return self.task(key)
        return self._bootstrap(self._runs[key], items, cell)

    def _bootstrap(self, run: Run, items: PerItemScores, cell: Cell | None) -> CI:
        part = items if cell is None else _group(items, cell)
        scores = {(split, subset): score for split, subset, score in run.cells()}
        expected = run.score() if cell is None else scores.get(cell)
        if part is None or expected is None:
            return CI(reason="the per-item file lacks this cell")
        s = self.settings
        try:
            interval = bootstrap_ci(
                part, n_resamples=s.n_resamples, confidence=s.confidence, seed=s.seed,
                method=s.method,
            )  # fmt: skip
        except HarnessError as exc:
            return CI(reason=f"no CI: {exc.problem}")
        if not math.isclose(interval.point, expected, rel_tol=0, abs_tol=STALE_TOLERANCE):
            return CI(reason="per-item file disagrees with the result (stale file?)")
        return CI(interval)
