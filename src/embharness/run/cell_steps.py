"""The steps of one cell around ``mteb.evaluate``: what it runs (the search that ranks the
corpus), the per-item scores, the facts its run record is built from, and its printed line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from embharness.encoding.bridge import build_encoder
from embharness.results.per_query import PerItemScores, check_matches_aggregate, per_item_scores
from embharness.results.record import CellFacts
from embharness.results.schema import RunRecord
from embharness.run.cell_identity import cell_max_length, cell_model_meta
from embharness.run.grid import applies, grid_identity, grid_precisions, grid_search
from embharness.run.late_chunk_search import chunked_search
from embharness.run.predictions import UNUSED_FOLDER, captured_predictions, captured_query_scores
from embharness.run.search import search_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from mteb.abstasks import AbsTask
    from mteb.models import ModelMeta
    from mteb.results import TaskResult

    from embharness.encoding.bridge import HarnessEncoder, LazyBackend
    from embharness.encoding.cache import EmbeddingCache
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


def mteb_evaluate(
    evaluated: Any, task: AbsTask, encoder: HarnessEncoder, prediction_folder: Any = None
) -> TaskResult:
    """``mteb.evaluate`` of one cell as the harness runs it: no mteb results cache, mteb's
    own progress bars off, the encoder's batch size."""
    import mteb

    result = mteb.evaluate(
        evaluated,
        task,
        cache=None,
        overwrite_strategy="always",
        # mteb reads its bar switch from encode_kwargs once they are given.
        encode_kwargs={"batch_size": encoder.engine.batch_size, "show_progress_bar": False},
        show_progress_bar=False,
        prediction_folder=prediction_folder,
    )
    return result.task_results[0]


def evaluate_cell(
    evaluated: Any, task: AbsTask, encoder: HarnessEncoder
) -> tuple[TaskResult, PerItemScores]:
    """One cell through ``mteb.evaluate``, and the per-item scores from the predictions and
    per-query scores it computed."""
    with (
        captured_predictions(task) as predictions,
        captured_query_scores(task) as query_scores,
    ):
        task_result = mteb_evaluate(evaluated, task, encoder, UNUSED_FOLDER)
        return task_result, cell_items(task, predictions, task_result, query_scores)


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


def cell_encoder(
    model: PreparedModel,
    backend: LazyBackend,
    task: TaskEntry,
    cell: tuple[int, ModelMeta],
    cache: EmbeddingCache | None,
    show_progress: bool,
) -> HarnessEncoder:
    """The encoder of one cell (``cell``: its dim and the meta that names its result): the
    model's batching and the run's cache."""
    dim, meta = cell
    rows, budget = model.batching
    return build_encoder(
        model.spec,
        backend,
        dim,
        batch_size=rows,
        max_batch_tokens=budget,
        meta=meta,
        cache=cache,
        max_length=cell_max_length(model, task),
        show_progress=show_progress,
    )


@dataclass(frozen=True)
class CellRun:
    """Where and how a cell ran, beyond what its encoder knows: its grid precision (None:
    float32), how it was launched, and which process scored it."""

    precision: str | None = None
    launch: tuple[str, str | None] = ("local", None)
    process: str = "runner"


def cell_facts(
    model: PreparedModel,
    task: TaskEntry,
    task_obj: AbsTask,
    encoder: HarnessEncoder,
    scored: tuple[float, float, PerItemScores],
    search: str | None,
    run: CellRun,
) -> CellFacts:
    """What the run record of a finished cell is built from (``scored``: wall seconds, main
    score and per-item scores; ``search``: the backend that ranked the corpus, None for a
    task without a search)."""
    wall_s, main_score, items = scored
    precision = run.precision
    rescore = model.entry.settings.rescore_top_k
    grid = grid_identity(precision, rescore) if precision else {"precision": "float32"}
    return CellFacts(
        spec=model.spec,
        info=encoder.backend.info,
        task=task_obj,
        splits=list(task.splits or task_obj.metadata.eval_splits),
        max_samples=task.max_samples or model.entry.settings.max_samples,
        dim=encoder.dim,
        stats=encoder.stats,
        batch_size=encoder.engine.batch_size,  # what ran: the sweep's or the device's default
        max_batch_tokens=encoder.engine.max_batch_tokens,
        max_length=encoder.max_length,
        loaded_dtype=encoder.backend.loaded_dtype(),
        wall_s=wall_s,
        main_score=main_score,
        search=search,
        items=items,
        **grid,
        launcher=run.launch[0],
        job_id=run.launch[1],
        process=run.process,
    )


def precision_meta(
    model: PreparedModel, task: TaskEntry, dim: int, precision: str | None
) -> ModelMeta:
    """The meta that names a cell's result: its dim and, for a grid point, its precision."""
    rescore = model.entry.settings.rescore_top_k
    extra = grid_identity(precision, rescore) if precision else {}
    return cell_model_meta(model, task, dim, **extra)


def job_plan(
    model: PreparedModel, task: TaskEntry, task_obj: Callable[[], AbsTask]
) -> tuple[list[tuple[int, str | None, ModelMeta]], int]:
    """(dim, precision, meta) of each cell of a job, every dim at float32 then the precision
    grid's points where the task has any (``task_obj``: the loaded task, asked for only then),
    and how many grid cells the task has no use for."""
    precisions: list[str | None] = [None, *grid_precisions(model.entry.settings.precisions)]
    lacking = 0
    if len(precisions) > 1 and not applies(task_obj()):
        lacking = (len(precisions) - 1) * len(model.dims)
        precisions = [None]
    plan = [(d, p, precision_meta(model, task, d, p)) for p in precisions for d in model.dims]
    return plan, lacking


def cell_line(done: int, total: int, model: str, task: str, dim: int, record: RunRecord) -> str:
    """The line a finished cell prints: main score, wall time split, cache hits and misses."""
    timing, cache = record["timing"], record["cache"]
    return (
        f"[cell {done}/{total}] {model} × {task} @ {dim}: main={record['main_score']:.4f} "
        f"wall {timing['wall_s']:.1f}s (encode {timing['encode_s']:.1f}s, "
        f"score {timing['score_s']:.1f}s), cache {cache['hits']} hits / {cache['misses']} misses"
    )
