"""The gate's baseline file: every scored cell of a results folder, with provenance.

Format (JSON)::

    {"format": "embharness-gate-baseline", "version": 1,
     "score_unit": "...",
     "provenance": {"created_at": "...", "created_by": "...", "results_dir": "...",
                    "embharness_version": "...", "git_shas": [...], "dirty": false,
                    "mteb_versions": [...]},
     "cells": [{"model": "org/name", "revision": "...", "experiment": null | "embed_dim_256",
                "task": "...", "split": "test", "subset": "default",
                "metric": "ndcg_at_10", "score": 0.61234}, ...]}

``score`` is mteb's main score as a 0–1 fraction; tolerances are given in points (×100).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import embharness
from embharness.atomic import atomic_write_json
from embharness.errors import HarnessError
from embharness.results.runs import Run, load_runs, record_value
from embharness.tasks.mteb_facts import main_metric

FORMAT = "embharness-gate-baseline"
VERSION = 1
SCORE_UNIT = "main score as a 0-1 fraction; gate tolerances are in points (x100)"
KEY_FIELDS = ("model", "revision", "experiment", "task", "split", "subset")


@dataclass(frozen=True)
class Cell:
    """One scored task × split × subset of one model variant."""

    model: str
    revision: str
    experiment: str | None
    task: str
    split: str
    subset: str
    metric: str
    score: float

    @property
    def key(self) -> tuple[str | None, ...]:
        """Identity of the cell (everything but the metric name and score)."""
        return tuple(getattr(self, name) for name in KEY_FIELDS)


def cells_of(runs: Iterable[Run]) -> list[Cell]:
    """Every cell of ``runs``, sorted by key."""
    cells = [
        Cell(
            run.model,
            run.revision,
            run.experiment,
            run.task,
            split,
            subset,
            main_metric(run.task),
            score,
        )
        for run in runs
        for split, subset, score in run.cells()
    ]
    return sorted(cells, key=lambda c: tuple(v or "" for v in c.key))


def current_cells(results_dir: Path) -> list[Cell]:
    """Every cell under a results folder."""
    return cells_of(load_runs(results_dir))


def _provenance(runs: list[Run], results_dir: Path) -> dict[str, Any]:
    records = [run.record for run in runs]
    dirty = {record_value(r, "git", "dirty") for r in records}
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "created_by": "embharness gate --write-baseline",
        "results_dir": str(results_dir),
        "embharness_version": embharness.__version__,
        "git_shas": sorted({s for r in records if (s := record_value(r, "git", "sha"))}),
        "dirty": True if True in dirty else (None if None in dirty else False),
        "mteb_versions": sorted({v for r in records if (v := record_value(r, "versions", "mteb"))}),
    }


def write_baseline(results_dir: Path, baseline_path: Path) -> int:
    """(Re)write ``baseline_path`` atomically from ``results_dir``; returns the cell count."""
    runs = load_runs(results_dir)
    cells = cells_of(runs)
    if not cells:
        raise HarnessError(
            f"no results in {results_dir} to write a baseline from", "run the evaluation first"
        )
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "score_unit": SCORE_UNIT,
        "provenance": _provenance(runs, results_dir),
        "cells": [asdict(cell) for cell in cells],
    }
    atomic_write_json(baseline_path, payload)
    return len(cells)


def _cell_from(entry: Any, path: Path, index: int) -> Cell:
    try:
        score = entry["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise TypeError("score is not a number")
        fields = {name: entry[name] for name in KEY_FIELDS}
        return Cell(**fields, metric=str(entry.get("metric", "main_score")), score=float(score))
    except (KeyError, TypeError) as exc:
        raise HarnessError(
            f"baseline {path}: cell {index} is malformed ({exc})",
            "rewrite it with `embharness gate --write-baseline`",
        ) from exc


def read_baseline(path: Path) -> tuple[list[Cell], dict[str, Any]]:
    """The cells and provenance of a baseline file (``HarnessError`` when unusable)."""
    fix = "create it with `embharness gate --write-baseline --baseline PATH`"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HarnessError(f"baseline {path} does not exist", fix) from exc
    except (OSError, ValueError) as exc:
        raise HarnessError(f"baseline {path} is not readable JSON: {exc}", fix) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise HarnessError(f"{path} is not an embharness gate baseline (version {VERSION})", fix)
    cells = [_cell_from(entry, path, i) for i, entry in enumerate(data.get("cells") or [])]
    keys = [cell.key for cell in cells]
    if len(set(keys)) != len(keys):
        raise HarnessError(f"baseline {path} has duplicate cells", fix)
    return cells, dict(data.get("provenance") or {})
