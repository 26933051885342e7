"""The baseline's per-item files: one parquet file per cell, named by cell and content hash.

``<baseline stem>.items/<model>@<revision[:12]>__<experiment>__<task>__<split>__<subset>.
<sha256[:12]>.parquet`` (characters outside ``[A-Za-z0-9._@-]`` become ``_``). The hash in the
name means a rewrite never overwrites a file the current baseline JSON names: new files are
added, the JSON is replaced atomically, then unreferenced files are pruned.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

from embharness.errors import HarnessError
from embharness.results.paired import ScoredCell, file_sha256, restrict
from embharness.results.per_query import PerItemScores

SUFFIX = ".parquet"
STAGING = ".staging.tmp"
UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")


def items_folder(baseline_path: Path) -> Path:
    """The folder of a baseline's per-item files: ``offline.json`` → ``offline.items``."""
    return baseline_path.with_name(f"{baseline_path.stem}.items")


def safe_name(cell: ScoredCell) -> str:
    """A file-name-safe, readable name of the cell (without hash or suffix)."""
    parts = (
        f"{cell.model.replace('/', '__')}@{cell.revision[:12]}",
        cell.experiment or "default",
        cell.task,
        cell.split,
        cell.subset,
    )
    return UNSAFE.sub("_", "__".join(parts))


def _store(items: PerItemScores, folder: Path, name: str) -> tuple[Path, str]:
    """Write ``items`` as ``<name>.<hash>.parquet`` in ``folder``; returns (path, sha256)."""
    staging = folder / f".{name}.{os.getpid()}{STAGING}"
    try:
        items.save(staging)
        digest = file_sha256(staging)
        final = folder / f"{name}.{digest[:12]}{SUFFIX}"
        os.replace(staging, final)
    finally:
        staging.unlink(missing_ok=True)
    return final, digest


def _entry(cell: ScoredCell, folder: Path, root: Path, cache: dict[Path, Any]) -> dict[str, Any]:
    none = {"file": None, "sha256": None, "n_items": None, "unit": None, "statistic": None}
    if cell.items is None:
        return {**none, "reason": cell.reason}
    if cell.items.path not in cache:
        cache[cell.items.path] = PerItemScores.load(cell.items.path)
    items = restrict(cache[cell.items.path], cell.split, cell.subset)
    path, digest = _store(items, folder, safe_name(cell))
    return {
        "file": path.relative_to(root).as_posix(),
        "sha256": digest,
        "n_items": items.n_items,
        "unit": items.unit,
        "statistic": items.statistic(),
        "reason": None,
    }


def write_items(cells: list[ScoredCell], folder: Path, root: Path) -> list[dict[str, Any]]:
    """Store every cell's per-item scores in ``folder``; the ``per_item`` entry of each cell."""
    names = [safe_name(cell) for cell in cells if cell.items is not None]
    if len(set(names)) != len(names):
        raise HarnessError(
            "two baseline cells map to the same per-item file name",
            "give the model variants distinct experiment names",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(f"cannot create {folder}: {exc.strerror or exc}") from exc
    cache: dict[Path, Any] = {}
    return [_entry(cell, folder, root, cache) for cell in cells]


def prune(folder: Path, keep: set[str], root: Path) -> int:
    """Remove parquet files in ``folder`` that ``keep`` (paths relative to ``root``) does not
    name; returns how many."""
    removed = 0
    for path in folder.glob(f"*{SUFFIX}") if folder.is_dir() else []:
        if path.is_file() and path.relative_to(root).as_posix() not in keep:
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed
