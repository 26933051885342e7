"""What names a cell: its experiment identity (every setting that changes a score beyond the
dim), the mteb ``ModelMeta`` of its result folder, and its max length."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from embharness.run.ann import search_label
from embharness.run.cells import PreparedModel
from embharness.run.late_chunk_search import chunking_label
from embharness.run.sweep import TaskEntry
from embharness.specs.spec import SIDES, PromptTable

if TYPE_CHECKING:
    from mteb.models import ModelMeta


def cell_identity(model: PreparedModel, task: TaskEntry) -> dict[str, Any]:
    """Everything beyond the dim that changes a score and so names an experiment folder.

    Settings at the spec's published values (dtype, whitespace rule, adapter table) name none,
    so a run as the authors ran it keeps the default folder.
    """
    max_length = cell_max_length(model, task)
    weights = model.info.weights_hash if model.entry.path else None
    adapter = model.info.peft_adapter
    spec = model.spec
    published = model.published
    return {
        "max_samples": task.max_samples or model.entry.settings.max_samples,
        "max_length": max_length if max_length != spec.default_max_length else None,
        "weights": weights[:12] if weights else None,
        "peft_adapter": f"{Path(adapter['path']).name}-{adapter['sha256'][:12]}"
        if adapter
        else None,
        "dtype": model.info.dtype if model.info.dtype != spec.dtype else None,
        "strip_whitespace": spec.strip_whitespace
        if spec.strip_whitespace != published.strip_whitespace
        else None,
        "task_adapters": task_adapter_label(spec.prompts, published.prompts, task.name),
        # ANN search changes scores: backend and parameters (exact search, and tasks whose
        # ranking does not go through the index, name none).
        "search": search_label(
            model.entry.settings.search, model.entry.settings.search_params, task.name
        ),
        # Long-document chunking (late / chunk_then_embed) and its parameters; truncate: none.
        "chunking": chunking_label(
            model.entry.settings.chunking, model.entry.settings.chunking_params
        ),
    }


def cell_model_meta(model: PreparedModel, task: TaskEntry, dim: int, **extra: Any) -> ModelMeta:
    """The mteb ``ModelMeta`` that names a cell's result folder (dim and experiment identity;
    ``extra``: a precision grid point's additions, ``run.grid.grid_identity``)."""
    return model.spec.to_model_meta(dim, **cell_identity(model, task), **extra)


def task_adapter_label(prompts: PromptTable, published: PromptTable, task: str) -> str | None:
    """``query=retrieval.query,document=retrieval.passage`` for a task the sweep opted in.

    The opt-ins are the ``"{task}-{side}"`` rows that differ from the published table's.
    """
    rows = {side: prompts.rows.get(f"{task}-{side}") for side in SIDES}
    chosen = [
        f"{side}={row.adapter}"
        for side, row in rows.items()
        if row is not None and row.adapter and row != published.rows.get(f"{task}-{side}")
    ]
    return ",".join(chosen) or None


def cell_max_length(model: PreparedModel, task: TaskEntry) -> int:
    """The cell's max length: the model's per-task override, the task's, then the model's."""
    return model.entry.task_max_length.get(task.name) or task.max_length or model.info.max_length
