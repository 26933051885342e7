"""The dims × precision × rescoring grid: extra cells from the cached float32 vectors.

A grid point is a (dim, precision) cell whose corpus and queries come from the embedding cache
(the float32 cells of the same task filled it) and whose ranking goes through
``QuantizedSearchIndex`` as mteb's index backend. Its experiment folder adds the precision to the
dim (``embed_dim_256__precision_int8``), so mteb, the report and the gate load it like any cell.
float32 is the plain cell itself and names nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embharness.errors import HarnessError
from embharness.run.binary_search import QuantizedSearchIndex
from embharness.run.search import indexed_search

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

GRID_TYPES = frozenset({"Retrieval"})


def grid_precisions(precisions: tuple[str, ...]) -> tuple[str, ...]:
    """The precisions that are extra grid points (float32 is the plain cell)."""
    return tuple(p for p in precisions if p != "float32")


def grid_identity(precision: str, rescore_top_k: int) -> dict[str, Any]:
    """What a grid point adds to its cell's experiment identity."""
    return {
        "precision": precision,
        "rescore_top_k": rescore_top_k if precision == "binary-rescore" else None,
    }


def applies(task: AbsTask) -> bool:
    """Whether the grid runs on ``task`` (full-corpus retrieval only)."""
    from mteb.abstasks import AbsTaskRetrieval

    return isinstance(task, AbsTaskRetrieval) and task.metadata.type in GRID_TYPES


def grid_search(encoder: Any, task: AbsTask, precision: str, rescore_top_k: int) -> Any:
    """mteb's ``SearchEncoderWrapper`` over ``encoder`` with the quantised index."""
    if not applies(task):
        raise HarnessError(
            f"precision {precision} applies to Retrieval tasks only, not {task.metadata.name}",
            "drop `precisions:` or keep only retrieval tasks in this sweep",
        )
    index = QuantizedSearchIndex(precision, rescore_top_k)
    return indexed_search(encoder, index)
