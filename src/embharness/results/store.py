"""Results on disk in mteb's ResultCache layout, written atomically under a folder lock.

``<root>/<org__model>/<revision>/[experiments/<name>/]<Task>.json`` plus ``model_meta.json``,
and the harness's run record at ``.../_embharness/<Task>.json`` (mteb only reads ``*.json``
directly inside the revision or experiment folder, so the record never looks like a result).

This is the one home of the folder rule: ``root`` may have any name. Paths come from mteb's own
``ResultCache.get_task_result_path``, rebased from mteb's ``<cache>/results`` onto ``root``, so
run, report, gate and submit agree on every folder, and mteb reads a folder named ``results``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embharness.atomic import atomic_write_file, atomic_write_json, folder_lock
from embharness.errors import HarnessError

if TYPE_CHECKING:
    from mteb import TaskResult
    from mteb.models import ModelMeta

    from embharness.results.per_query import PerItemScores

RECORD_FOLDER = "_embharness"


def run_record_path(result_path: Path) -> Path:
    """Where the harness keeps the run record of the result file ``result_path``."""
    return result_path.parent / RECORD_FOLDER / result_path.name


def items_path(result_path: Path) -> Path:
    """Where the harness keeps the per-item scores of the result file ``result_path``."""
    return result_path.parent / RECORD_FOLDER / f"{result_path.stem}{ITEMS_SUFFIX}"


ITEMS_SUFFIX = ".items.parquet"
MTEB_RESULTS_FOLDER = "results"  # what mteb's ResultCache puts under its cache path
RESULT_GLOBS = ("*/*/*.json", "*/*/experiments/*/*.json")  # as ResultCache.get_cache_paths


class ResultsStore:
    """Reads and writes cell results under ``root``, a results folder of any name."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def result_path(self, meta: ModelMeta, task_name: str) -> Path:
        """Where the cell's mteb result lives: mteb's path rule, rebased onto ``root``."""
        import mteb

        cache = mteb.ResultCache(self.root)  # creates root, as every writer of cells does
        revision = meta.revision or "no_revision_available"
        path = cache.get_task_result_path(task_name, meta.model_copy(update={"revision": revision}))
        return self.root / path.relative_to(cache.cache_path / MTEB_RESULTS_FOLDER)

    def cell_folder(self, meta: ModelMeta) -> Path:
        """The revision folder, or the experiment folder for a non-default run."""
        return self.result_path(meta, "_").parent

    def result_paths(self) -> list[Path]:
        """Every result file under ``root`` (default runs and experiments), sorted."""
        if not self.root.is_dir():
            raise HarnessError(
                f"results folder {self.root} does not exist",
                "run an evaluation first or pass --results pointing at an existing folder",
            )
        found = {p for pattern in RESULT_GLOBS for p in self.root.glob(pattern)}
        return sorted(p for p in found if p.name != "model_meta.json")

    def covers(self, meta: ModelMeta, task_name: str, splits: list[str]) -> bool:
        """Whether a readable result exists with every requested split."""
        path = self.result_path(meta, task_name)
        try:
            scores = json.loads(path.read_text())["scores"]
        except (OSError, ValueError, KeyError):
            return False
        return all(split in scores for split in splits)

    def read_record(self, meta: ModelMeta, task_name: str) -> dict[str, Any] | None:
        """The cell's run record, or None when it is missing or unreadable."""
        try:
            record: dict[str, Any] = json.loads(
                run_record_path(self.result_path(meta, task_name)).read_text()
            )
            return record
        except (OSError, ValueError):
            return None

    def exists(self, meta: ModelMeta, task_name: str) -> bool:
        """Whether any result file exists for the cell."""
        return self.result_path(meta, task_name).exists()

    def check_writable(self) -> None:
        """Fail early, with one line, when the results folder can't be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".probe"):
                pass
        except OSError as exc:
            raise HarnessError(
                f"results folder {self.root} is not writable: {exc.strerror or exc}",
                "pass --results-dir to a writable folder or fix its permissions",
            ) from exc

    def write(
        self,
        result: TaskResult,
        meta: ModelMeta,
        record: Mapping[str, Any],
        items: PerItemScores | None = None,
    ) -> Path:
        """Write the per-item scores (where the task has them), the run record,
        model_meta.json, then the result (its presence marks the cell done)."""
        folder = self.cell_folder(meta)
        path = folder / f"{result.task_name}.json"
        with folder_lock(self.root):
            if items is not None and items.available:
                items.save(items_path(path))
            atomic_write_json(run_record_path(path), record)
            atomic_write_json(folder / "model_meta.json", _stable(meta.to_dict()))
            atomic_write_file(path, result.to_disk)
        return path


def _stable(meta: dict[str, Any]) -> dict[str, Any]:
    """``model_meta.json`` with its set-valued field sorted, so reruns write the same bytes."""
    datasets = meta.get("training_datasets")
    return {**meta, "training_datasets": sorted(datasets)} if isinstance(datasets, list) else meta
