"""Load each sweep task once (filters and sample cap applied) and reuse it across cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

from embharness.run.sweep import TaskEntry
from embharness.tasks.registry import apply_sample_cap, get_task

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask


def _listed(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values else None


class TaskLoader:
    """Builds tasks lazily: metadata first, data only when a cell must run."""

    def __init__(self) -> None:
        self._tasks: dict[tuple[TaskEntry, int | None], AbsTask] = {}

    def _task(self, entry: TaskEntry, cap: int | None) -> AbsTask:
        key = (entry, cap)
        if key not in self._tasks:
            self._tasks[key] = get_task(
                entry.name,
                languages=_listed(entry.languages),
                eval_splits=_listed(entry.splits),
                hf_subsets=_listed(entry.subsets),
            )
        return self._tasks[key]

    def splits(self, entry: TaskEntry) -> list[str]:
        """The splits a cell of this task must cover."""
        return list(entry.splits or self._task(entry, None).metadata.eval_splits)

    def get(self, entry: TaskEntry, cap: int | None) -> AbsTask:
        """The task with its data loaded and, for quick runs, capped."""
        task = self._task(entry, cap)
        if not task.data_loaded:
            _ensure_dataset(task)
            task.load_data()
            if cap:
                apply_sample_cap(task, cap)
        return task


def _ensure_dataset(task: AbsTask) -> None:
    dataset = task.metadata.dataset or {}
    path = str(dataset.get("path", ""))
    if path and ":" not in path:
        from embharness.hub import ensure_available

        ensure_available(path, dataset.get("revision"), repo_type="dataset")
