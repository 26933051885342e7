"""Metadata shared by the offline code-retrieval tasks (text query → Python code, one split)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from mteb import TaskMetadata
from mteb.abstasks.retrieval import AbsTaskRetrieval

CODE_RETRIEVAL_DEFAULTS: dict[str, Any] = {
    "type": "Retrieval",
    "category": "t2t",
    "modalities": ["text"],
    "eval_splits": ["test"],
    "eval_langs": ["eng-Latn", "python-Code"],
    "main_score": "ndcg_at_10",
    "domains": ["Programming"],
    "task_subtypes": ["Code retrieval"],
    "annotations_creators": "derived",
    "dialect": [],
    "sample_creation": "found",
}


def code_retrieval_metadata(**fields: Any) -> TaskMetadata:
    """``TaskMetadata`` for an offline code-retrieval task: the defaults plus ``fields``."""
    return TaskMetadata(**{**CODE_RETRIEVAL_DEFAULTS, **fields})


class BuiltRetrievalTask(AbsTaskRetrieval):
    """An offline retrieval task whose one test split a module-level builder makes."""

    build_split: ClassVar[Callable[[], Any]]

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        """Build the dataset (idempotent)."""
        if self.data_loaded:
            return
        self.dataset = {"default": {"test": type(self).build_split()}}
        self.data_loaded = True
