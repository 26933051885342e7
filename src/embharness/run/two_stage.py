"""Two-stage retrieval: a first stage's top-k, reranked through mteb's own two-stage path.

1. The first stage ranks the whole corpus through ``mteb.evaluate(..., prediction_folder=F)``:
   a harness embedding model (``MODEL[@dim][:precision]``, vectors from the embedding cache, a
   precision other than float32 ranked by the grid's quantised index, ``run.grid``) or mteb's
   BM25 (``bm25``). mteb writes its top hits per query to ``F/<Task>_predictions.json``.
2. ``task.convert_to_reranking(F, top_k)`` (mteb) turns a fresh copy of the task into a
   reranking task over each query's first-stage top ``top_k``, and ``mteb.evaluate`` scores the
   reranker on it: a cross-encoder (mteb's ``CrossEncoderProtocol``: a sentence-transformers
   ``CrossEncoder`` from the hub, or an mteb baseline) or a harness embedding model as a
   bi-encoder (``bi:MODEL[@dim]``; mteb's ``SearchEncoderWrapper`` reranks ``top_ranked``).

mteb's own result key (model, revision, experiment) names the reranker only, so two first stages
would land in one folder. Here the reranker's experiment kwargs add ``first_stage`` (model,
revision, dim, precision: ``<org>__<model>@<rev8>-d384-float32``) and ``rerank_top_k``, so each
first stage gets its own folder under the reranker's model folder. The run record's
``two_stage`` section (schema 8) keeps both stages' scores and wall times; the first stage's
predictions file stays beside it (``_embharness/first_stage/``).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import embharness
from embharness.encoding.bridge import HarnessEncoder
from embharness.encoding.cache import EmbeddingCache
from embharness.errors import HarnessError
from embharness.results.per_query import PerItemScores
from embharness.results.record import git_state, package_versions
from embharness.results.schema import SCHEMA_VERSION, upgrade_record
from embharness.results.store import ITEMS_SUFFIX, RECORD_FOLDER, ResultsStore
from embharness.run.cell_steps import cell_items
from embharness.run.predictions import (
    UNUSED_FOLDER,
    captured_predictions,
    captured_query_scores,
)
from embharness.run.rerank_stages import Stage, first_stage, reranker_meta, reranker_stage
from embharness.run.sweep import TaskEntry
from embharness.run.task_loading import TaskLoader

if TYPE_CHECKING:
    from mteb.abstasks import AbsTaskRetrieval
    from mteb.models import ModelMeta
    from mteb.results import TaskResult

FIRST_STAGE_FOLDER = "first_stage"
REPORTED = ("ndcg_at_10", "recall_at_10", "recall_at_100", "mrr_at_10")


@dataclass(frozen=True)
class RerankRequest:
    """One two-stage run: task, first stage, reranker, candidates per query, where it goes."""

    task: str
    first_stage: str
    reranker: str
    results_dir: Path
    top_k: int = 100
    cache_dir: Path | None = None
    max_samples: int | None = None
    batch_size: int = 32
    reranker_revision: str | None = None
    overwrite: bool = False


@dataclass
class StageScores:
    """A stage's scores (mteb's main score and ``REPORTED``) and its wall time."""

    main_score: float
    scores: dict[str, float]
    wall_s: float
    cache: dict[str, int] = field(default_factory=dict)


@dataclass
class TwoStageOutcome:
    """What ``run_two_stage`` did: the result file, its experiment name and both stages."""

    status: str
    path: Path
    experiment: str
    record: dict[str, Any]


def check_request(request: RerankRequest) -> None:
    """One-line errors for a bad top-k, sample cap or task before any work."""
    from embharness.tasks.registry import get_task

    if request.top_k < 1:
        raise HarnessError(f"--top-k must be at least 1, got {request.top_k}", "e.g. --top-k 100")
    if request.max_samples is not None and request.max_samples < 1:
        raise HarnessError(f"--max-samples must be at least 1, got {request.max_samples}", "")
    from mteb.abstasks import AbsTaskRetrieval

    task = get_task(request.task)
    if not isinstance(task, AbsTaskRetrieval) or task.metadata.type != "Retrieval":
        raise HarnessError(
            f"two-stage retrieval needs a Retrieval task, {request.task} is {task.metadata.type}",
            "pass --task with a Retrieval task (e.g. HumanEvalRetrievalOffline)",
        )


@dataclass
class _Plan:
    """A checked request resolved to its stages, the reranked result's key and its store."""

    request: RerankRequest
    entry: TaskEntry
    first: Stage
    reranker: Stage
    meta: ModelMeta
    store: ResultsStore

    @property
    def experiment(self) -> str:
        return str(self.meta.experiment_name)

    def done(self) -> bool:
        splits = TaskLoader().splits(self.entry)
        return self.store.covers(self.meta, self.request.task, splits)


def plan_two_stage(request: RerankRequest) -> _Plan:
    """Check ``request`` and resolve its first stage, reranker and result key (no work yet)."""
    check_request(request)
    entry = TaskEntry(request.task, max_samples=request.max_samples)
    cache = EmbeddingCache(request.cache_dir) if request.cache_dir else None
    first = first_stage(request.first_stage, entry, cache, request.batch_size)
    reranker = reranker_stage(
        request.reranker, entry, cache, request.batch_size, request.reranker_revision
    )
    extra = {"first_stage": first.identity, "rerank_top_k": request.top_k}
    store = ResultsStore(request.results_dir)
    store.check_writable()
    return _Plan(request, entry, first, reranker, reranker_meta(reranker, entry, extra), store)


def run_two_stage(
    request: RerankRequest, say: Callable[[str], None] = lambda _: None
) -> TwoStageOutcome:
    """First stage → mteb predictions → ``convert_to_reranking`` → reranker, saved as a result."""
    plan = plan_two_stage(request)
    path = plan.store.result_path(plan.meta, request.task)
    if not request.overwrite and plan.done():
        say(f"{request.task} × {plan.meta.name} ({plan.experiment}): done earlier, skipped")
        record = plan.store.read_record(plan.meta, request.task) or {}
        return TwoStageOutcome("skipped", path, plan.experiment, record)
    folder = plan.store.cell_folder(plan.meta) / RECORD_FOLDER / FIRST_STAGE_FOLDER
    predictions, first_scores = _run_first_stage(plan, folder)
    say(_line("first stage", plan.first.identity, first_scores))
    task = _retrieval_task(plan).convert_to_reranking(folder, request.top_k)
    with captured_predictions(task) as captured, captured_query_scores(task) as query_scores:
        result, wall = _evaluate(plan.reranker.model, task, request.batch_size, UNUSED_FOLDER)
        items = cell_items(task, captured, result, query_scores)
    scores = _scores(result, wall, plan.reranker)
    say(_line(f"rerank top-{request.top_k}", request.reranker, scores))
    facts = _Facts(plan, first_scores, scores, predictions, items)
    record = build_two_stage_record(facts, task)
    plan.store.write(result, plan.meta, record, items)
    return TwoStageOutcome("ran", path, plan.experiment, record)


def _retrieval_task(plan: _Plan) -> AbsTaskRetrieval:
    """A fresh copy of the task, its data loaded and capped (``check_request``: retrieval)."""
    task: AbsTaskRetrieval = TaskLoader().get(plan.entry, plan.request.max_samples)  # type: ignore[assignment]
    return task


def _run_first_stage(plan: _Plan, folder: Path) -> tuple[Path, StageScores]:
    """Rank the corpus with the first stage; mteb writes its predictions into ``folder``."""
    task = _retrieval_task(plan)
    predictions = folder / task.prediction_file_name
    predictions.unlink(missing_ok=True)  # mteb merges into an existing file
    result, wall = _evaluate(plan.first.model, task, plan.request.batch_size, folder)
    return predictions, _scores(result, wall, plan.first)


def _evaluate(
    model: Any, task: AbsTaskRetrieval, batch_size: int, folder: Path
) -> tuple[TaskResult, float]:
    import mteb

    start = time.perf_counter()
    result = mteb.evaluate(
        model,
        task,
        cache=None,
        overwrite_strategy="always",
        encode_kwargs={"batch_size": batch_size, "show_progress_bar": False},
        show_progress_bar=False,
        prediction_folder=folder,
    )
    return result.task_results[0], time.perf_counter() - start


def _scores(result: TaskResult, wall_s: float, stage: Stage) -> StageScores:
    first = next(iter(result.scores.values()))[0]
    reported = {
        metric: float(result.get_score(getter=_getter(metric)))
        for metric in REPORTED
        if metric in first
    }
    stats = stage.encoder.stats if stage.encoder is not None else None
    cache = {"hits": stats.hits, "misses": stats.misses} if stats else {}
    return StageScores(float(result.get_score()), reported, wall_s, cache)


def _getter(metric: str) -> Callable[[Mapping[str, Any]], float]:
    """mteb's ``get_score`` getter for one metric (the mean over splits and subsets)."""

    def get(scores: Mapping[str, Any]) -> float:
        return float(scores[metric])

    return get


def _line(label: str, what: str, scores: StageScores) -> str:
    shown = " ".join(f"{k}={v:.4f}" for k, v in scores.scores.items())
    cache = scores.cache
    hits = f", cache {cache['hits']} hits / {cache['misses']} misses" if cache else ""
    return f"{label} {what}: main={scores.main_score:.4f} {shown} wall {scores.wall_s:.2f}s{hits}"


@dataclass(frozen=True)
class _Facts:
    plan: _Plan
    first_scores: StageScores
    scores: StageScores
    predictions: Path
    items: PerItemScores


def _stage_facts(stage: Stage, scores: StageScores | None = None) -> dict[str, Any]:
    facts = {
        "model": stage.name,
        "revision": stage.revision,
        "kind": stage.kind,
        "dim": stage.dim,
        "precision": stage.precision,
    }
    if scores is None:
        return facts
    return {
        **facts,
        "identity": stage.identity,
        "main_score": scores.main_score,
        "scores": scores.scores,
        "wall_s": round(scores.wall_s, 3),
        "cache": scores.cache or None,
    }


def build_two_stage_record(facts: _Facts, task: AbsTaskRetrieval) -> dict[str, Any]:
    """The reranked result's run record: the current schema, its ``two_stage`` section set,
    fields that only describe an embedding cell (pooling, dtype, …) None."""
    plan, scores = facts.plan, facts.scores
    request, encoder = plan.request, plan.reranker.encoder
    n_queries = max(facts.items.n_items, 1) if facts.items.available else 1
    metadata = task.metadata
    record = {
        "schema_version": SCHEMA_VERSION,
        "embharness_version": embharness.__version__,
        "git": git_state(),
        "model": {
            "name": plan.meta.name,
            "revision": plan.meta.revision,
            "dim": plan.reranker.dim,
            "loader": plan.reranker.kind,
        },
        "task": {
            "name": metadata.name,
            "type": metadata.type,
            "dataset_revision": (metadata.dataset or {}).get("revision"),
            "splits": list(metadata.eval_splits),
            "max_samples": request.max_samples,
            "plans": encoder.stats.plans if encoder else {},
        },
        "settings": {"batch_size": request.batch_size, "search": "rerank"},
        "versions": package_versions(),
        "timing": _timing(scores.wall_s, encoder),
        "cache": scores.cache or {"hits": 0, "misses": 0},
        "truncated_texts": encoder.stats.truncated if encoder else 0,
        "main_score": scores.main_score,
        "per_item": _per_item(facts.items),
        "launch": {
            "launcher": "local",
            "job_id": None,
            "host": socket.gethostname(),
            "process": "runner",
            "parts": 1,
        },
        "two_stage": {
            "first_stage": _stage_facts(plan.first, facts.first_scores),
            "reranker": _stage_facts(plan.reranker),
            "top_k": request.top_k,
            "rerank_wall_s": round(scores.wall_s, 3),
            "added_ms_per_query": round(1000 * scores.wall_s / n_queries, 3),
            "predictions_file": f"{FIRST_STAGE_FOLDER}/{facts.predictions.name}",
        },
    }
    return dict(upgrade_record(record))


def _timing(wall_s: float, encoder: HarnessEncoder | None) -> dict[str, float]:
    encode_s = encoder.stats.encode_s if encoder else 0.0
    return {
        "wall_s": round(wall_s, 3),
        "encode_s": round(encode_s, 3),
        "score_s": round(max(wall_s - encode_s, 0.0), 3),
    }


def _per_item(items: PerItemScores) -> dict[str, Any]:
    if not items.available:
        return {"file": None, "n_items": 0, "reason": items.reason}
    return {
        "file": f"{items.task_name}{ITEMS_SUFFIX}",
        "unit": items.unit,
        "statistic": items.statistic(),
        "n_items": items.n_items,
        "reason": None,
    }
