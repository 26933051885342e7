"""The steps of one cell around ``mteb.evaluate``: what it runs (the search that ranks the
corpus), the per-item scores, the facts its run record is built from, and its printed line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from embharness.results.per_query import PerItemScores, check_matches_aggregate, per_item_scores
from embharness.results.record import CellFacts
from embharness.results.schema import RunRecord
from embharness.run.grid import grid_search
from embharness.run.late_chunk_search import chunked_search
from embharness.run.search import search_model

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask
    from mteb.results import TaskResult

    from embharness.encoding.bridge import HarnessEncoder
    from embharness.run.cells import PreparedModel
    from embharness.run.sweep import Settings, TaskEntry


def cell_items(
    task: AbsTask,
    predictions: dict[str, Any],
    task_result: TaskResult,
    query_scores: dict[str, Any] | None = None,
) -> PerItemScores:
    """The cell's per-item scores from mteb's captured predictions (and, for retrieval, the
    per-query scores mteb computed), checked against mteb's aggregate (a query pytrec_eval
    dropped, or any other disagreement, fails the cell)."""
    items = per_item_scores(task, predictions, query_scores)
    if items.available:
        check_matches_aggregate(items, task_result)
    return items


def searching_model(
    encoder: HarnessEncoder, task_obj: AbsTask, settings: Settings, precision: str | None
) -> tuple[Any, str | None]:
    """What ``mteb.evaluate`` runs for a cell, and the search that ranks its corpus: a grid
    point's quantised index over the cached vectors, chunked documents scored by their best
    chunk, or the sweep's search (exact torch/faiss index or mteb's own)."""
    if precision:
        return grid_search(encoder, task_obj, precision, settings.rescore_top_k), precision
    if settings.chunking != "truncate":
        return chunked_search(encoder, task_obj, settings.chunking, settings.chunking_params)
    return search_model(encoder, task_obj, settings.search, settings.search_params)


def cell_facts(
    model: PreparedModel,
    task: TaskEntry,
    task_obj: AbsTask,
    encoder: HarnessEncoder,
    wall_s: float,
    main_score: float,
    cap: int | None,
    search: str | None = None,
) -> CellFacts:
    """What the run record of a finished cell is built from (``search``: the backend that
    ranked the corpus, None for a task without a search)."""
    return CellFacts(
        spec=model.spec,
        info=encoder.backend.info,
        task=task_obj,
        splits=list(task.splits or task_obj.metadata.eval_splits),
        max_samples=cap,
        dim=encoder.dim,
        stats=encoder.stats,
        batch_size=encoder.engine.batch_size,  # what ran: the sweep's or the device's default
        max_batch_tokens=encoder.engine.max_batch_tokens,
        max_length=encoder.max_length,
        loaded_dtype=encoder.backend.loaded_dtype(),
        wall_s=wall_s,
        main_score=main_score,
        search=search,
    )


def cell_line(done: int, total: int, model: str, task: str, dim: int, record: RunRecord) -> str:
    """The line a finished cell prints: main score, wall time split, cache hits and misses."""
    timing, cache = record["timing"], record["cache"]
    return (
        f"[cell {done}/{total}] {model} × {task} @ {dim}: main={record['main_score']:.4f} "
        f"wall {timing['wall_s']:.1f}s (encode {timing['encode_s']:.1f}s, "
        f"score {timing['score_s']:.1f}s), cache {cache['hits']} hits / {cache['misses']} misses"
    )
