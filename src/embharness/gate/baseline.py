"""The gate's baseline file: every scored cell of a results folder, with provenance.

Format, version 3 (JSON, plus one parquet file of per-item scores per cell beside it)::

    {"format": "embharness-gate-baseline", "version": 3,
     "score_unit": "...",
     "items_folder": "offline.items",
     "provenance": {"created_at": "...", "created_by": "...", "results_dir": "...",
                    "embharness_version": "...", "git_shas": [...], "dirty": false,
                    "mteb_versions": [...], "python_versions": [...]},
     "cells": [{"model": "org/name", "revision": "...", "experiment": null | "embed_dim_256",
                "task": "...", "split": "test", "subset": "default",
                "metric": "ndcg_at_10", "score": 0.61234, "dataset_revision": "...",
                "per_item": {"file": "offline.items/<cell>.<sha256[:12]>.parquet",
                             "sha256": "...", "n_items": 164, "unit": "query",
                             "statistic": "mean", "reason": null}}, ...]}

``score`` is mteb's main score as a 0–1 fraction; tolerances are given in points (×100).
``per_item.file`` (relative to the baseline's folder) holds that split × subset's per-item
scores (``PerItemScores.save``), so the significance gate never recomputes the baseline; it is
null, with ``reason``, for a cell without per-item scores. Files are named by their content's
hash and checked against ``sha256`` on load (``gate.baseline_items``). ``dataset_revision`` is
the task data's revision as mteb recorded it, so the gate can say when a cell was scored on other
data (the stdlib task's data is the interpreter's standard library: ``python-3.11.7``).

Version 2 is the same without ``dataset_revision`` and ``python_versions`` (read as unknown).
Version 1 is also without ``items_folder`` and ``per_item``: it still loads (every cell then has
no per-item scores) and gates in tolerance mode.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import embharness
from embharness.atomic import atomic_write_json
from embharness.errors import HarnessError
from embharness.gate import baseline_items
from embharness.results.paired import ItemsRef, ScoredCell, cells_of_runs
from embharness.results.runs import Run, load_runs, record_value

FORMAT = "embharness-gate-baseline"
VERSION = 3
VERSIONS = (1, 2, 3)
SCORE_UNIT = "main score as a 0-1 fraction; gate tolerances are in points (x100)"
KEY_FIELDS = ("model", "revision", "experiment", "task", "split", "subset")
V1_REASON = "version-1 baseline"
Cell = ScoredCell  # a baseline cell is a scored cell whose items live beside the baseline


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline: its cells, provenance and format version."""

    cells: list[Cell]
    provenance: dict[str, Any]
    version: int
    path: Path


def current_cells(results_dir: Path) -> list[Cell]:
    """Every cell under a results folder, each pointing at its run's per-item scores."""
    return cells_of_runs(load_runs(results_dir))


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
        "python_versions": sorted(
            {v for r in records if (v := record_value(r, "versions", "python"))}
        ),
    }


def _entry(cell: Cell, per_item: dict[str, Any]) -> dict[str, Any]:
    fields = {name: getattr(cell, name) for name in KEY_FIELDS}
    return {
        **fields,
        "metric": cell.metric,
        "score": cell.score,
        "dataset_revision": cell.dataset_revision,
        "per_item": per_item,
    }


def write_baseline(results_dir: Path, baseline_path: Path) -> int:
    """(Re)write ``baseline_path`` (version 3) and its items folder from ``results_dir``.

    Item files are written first under content-hash names, then the JSON atomically, then files
    no longer named by it are removed: a reader sees the old baseline or the new one, whole.
    Returns the cell count.
    """
    baseline_path = Path(baseline_path)
    runs = load_runs(results_dir)
    cells = cells_of_runs(runs)
    if not cells:
        raise HarnessError(
            f"no results in {results_dir} to write a baseline from", "run the evaluation first"
        )
    folder = baseline_items.items_folder(baseline_path)
    per_item = baseline_items.write_items(cells, folder, baseline_path.parent)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "score_unit": SCORE_UNIT,
        "items_folder": folder.name,
        "provenance": _provenance(runs, results_dir),
        "cells": [_entry(cell, entry) for cell, entry in zip(cells, per_item, strict=True)],
    }
    atomic_write_json(baseline_path, payload)
    baseline_items.prune(folder, {e["file"] for e in per_item if e["file"]}, baseline_path.parent)
    return len(cells)


def _malformed(path: Path, index: int, exc: Exception) -> HarnessError:
    return HarnessError(
        f"baseline {path}: cell {index} is malformed ({exc})",
        "rewrite it with `embharness gate --write-baseline`",
    )


def _items_of(entry: dict[str, Any], version: int, root: Path) -> tuple[ItemsRef | None, str]:
    if version == 1:
        return None, V1_REASON
    per_item = entry["per_item"]
    if not isinstance(per_item, dict):
        raise TypeError("per_item is not an object")
    if not per_item.get("file"):
        return None, str(per_item.get("reason") or "no per-item scores")
    return ItemsRef(root / str(per_item["file"]), sha256=str(per_item["sha256"])), ""


def _cell_from(entry: Any, path: Path, index: int, version: int) -> Cell:
    try:
        score = entry["score"]
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise TypeError("score is not a number")
        fields = {name: entry[name] for name in KEY_FIELDS}
        items, reason = _items_of(entry, version, path.parent)
        metric = str(entry.get("metric", "main_score"))
        revision = entry.get("dataset_revision")
        return Cell(
            **fields,
            metric=metric,
            score=float(score),
            items=items,
            reason=reason,
            dataset_revision=None if revision is None else str(revision),
        )
    except (KeyError, TypeError) as exc:
        raise _malformed(path, index, exc) from exc


def _read_json(path: Path) -> dict[str, Any]:
    fix = "create it with `embharness gate --write-baseline --baseline PATH`"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HarnessError(f"baseline {path} does not exist", fix) from exc
    except (OSError, ValueError) as exc:
        raise HarnessError(f"baseline {path} is not readable JSON: {exc}", fix) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HarnessError(f"{path} is not an embharness gate baseline", fix)
    if data.get("version") not in VERSIONS:
        raise HarnessError(
            f"baseline {path} has version {data.get('version')!r}; this embharness reads "
            f"versions {', '.join(map(str, VERSIONS))}",
            "rewrite it with `embharness gate --write-baseline`",
        )
    return data


def load_baseline(path: Path) -> Baseline:
    """A baseline file of either version (``HarnessError`` when unusable)."""
    path = Path(path)
    data = _read_json(path)
    version = int(data["version"])
    cells = [_cell_from(e, path, i, version) for i, e in enumerate(data.get("cells") or [])]
    keys = [cell.key for cell in cells]
    if len(set(keys)) != len(keys):
        raise HarnessError(
            f"baseline {path} has duplicate cells",
            "rewrite it with `embharness gate --write-baseline`",
        )
    return Baseline(cells, dict(data.get("provenance") or {}), version, path)


def read_baseline(path: Path) -> tuple[list[Cell], dict[str, Any]]:
    """The cells and provenance of a baseline file (``HarnessError`` when unusable)."""
    loaded = load_baseline(path)
    return loaded.cells, loaded.provenance
