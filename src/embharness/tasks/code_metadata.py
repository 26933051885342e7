"""Metadata shared by the offline code-retrieval tasks (text query → Python code, one split)."""

from __future__ import annotations

from typing import Any

from mteb import TaskMetadata

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
