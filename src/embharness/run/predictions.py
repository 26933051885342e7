"""What mteb scored in a cell, kept in memory for the per-item scores.

mteb hands each (subset, split)'s predictions to its task's ``_save_task_predictions`` hook
when ``mteb.evaluate`` gets a ``prediction_folder``; the hook writes them as one JSON file.
For a top-1000 retrieval run that file is millions of entries: writing and reading it back cost
more than mteb's scoring itself (the stdlib task: 3,385 queries × 1,000 hits, about 7 s a
cell on 2 cores). ``captured_predictions`` takes the same hook on the one task object of the
cell and keeps the same ``{subset: {split: predictions}}`` mapping in memory, so nothing is
written and the mapping is what ``results.per_query.per_item_scores`` reads.

For retrieval, mteb also hands the per-query pytrec_eval scores it computed to the task's
``task_specific_scores`` hook (an override point mteb documents); ``captured_query_scores``
keeps them, so the per-item rows reuse mteb's own values instead of running pytrec_eval again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

# mteb needs a folder to enable its hook; the captured hook never touches it.
UNUSED_FOLDER = Path("embharness-predictions-kept-in-memory")
HOOK = "_save_task_predictions"
SCORES_HOOK = "task_specific_scores"


@contextlib.contextmanager
def captured_predictions(task: AbsTask) -> Iterator[dict[str, Any]]:
    """Within the block, ``task``'s predictions land in the yielded mapping, not on disk."""
    captured: dict[str, Any] = {}

    def keep(
        predictions: Any, model: Any, prediction_folder: Path, hf_split: str, hf_subset: str
    ) -> None:
        del model, prediction_folder
        captured.setdefault(hf_subset, {})[hf_split] = predictions

    with _hooked(task, HOOK, keep):
        yield captured


@contextlib.contextmanager
def captured_query_scores(task: AbsTask) -> Iterator[dict[str, Any]]:
    """Within the block, the per-query scores mteb computes for ``task`` (``{subset: {split:
    {query id: {pytrec measure: value}}}}``) land in the yielded mapping; the task's own
    ``task_specific_scores`` still runs and its result goes back to mteb unchanged."""
    captured: dict[str, Any] = {}
    original = getattr(task, SCORES_HOOK, None)
    if original is None:  # not a retrieval task: nothing to capture
        yield captured
        return

    def keep(scores: Any, qrels: Any, results: Any, hf_split: str, hf_subset: str) -> Any:
        captured.setdefault(hf_subset, {})[hf_split] = scores
        return original(scores, qrels, results, hf_split=hf_split, hf_subset=hf_subset)

    with _hooked(task, SCORES_HOOK, keep):
        yield captured


@contextlib.contextmanager
def _hooked(task: AbsTask, name: str, hook: Any) -> Iterator[None]:
    """``hook`` as ``task.<name>`` on this instance only; the class keeps mteb's method."""
    setattr(task, name, hook)
    try:
        yield
    finally:
        delattr(task, name)
