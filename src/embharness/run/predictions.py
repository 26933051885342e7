"""What mteb scored in a cell, kept in memory for the per-item scores.

mteb hands each (subset, split)'s predictions to its task's ``_save_task_predictions`` hook
when ``mteb.evaluate`` gets a ``prediction_folder``; the hook writes them as one JSON file.
For a top-1000 retrieval run that file is millions of entries: writing and reading it back cost
more than mteb's scoring itself (the stdlib task: 3,385 queries × 1,000 hits, about 7 s a
cell on 2 cores). ``captured_predictions`` takes the same hook on the one task object of the
cell and keeps the same ``{subset: {split: predictions}}`` mapping in memory, so nothing is
written and the mapping is what ``results.per_query.per_item_scores`` reads.
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


@contextlib.contextmanager
def captured_predictions(task: AbsTask) -> Iterator[dict[str, Any]]:
    """Within the block, ``task``'s predictions land in the yielded mapping, not on disk."""
    captured: dict[str, Any] = {}

    def keep(
        predictions: Any, model: Any, prediction_folder: Path, hf_split: str, hf_subset: str
    ) -> None:
        del model, prediction_folder
        captured.setdefault(hf_subset, {})[hf_split] = predictions

    setattr(task, HOOK, keep)  # on this instance only; the class keeps mteb's hook
    try:
        yield captured
    finally:
        delattr(task, HOOK)
