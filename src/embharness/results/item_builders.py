"""Per-item rows for one cell, by mteb task type, from the predictions mteb saved.

Each builder reads ``predictions[subset][split]`` (the JSON ``mteb.evaluate(...,
prediction_folder=...)`` writes) plus the task's own data (qrels, gold scores, labels) and
returns an ``Items``: the frame, one ``MetricSpec`` per metric and a method note. Rows carry
``split``, ``subset`` and ``item_id``. ``per_query.per_item_scores`` is the public entry point.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embharness.errors import HarnessError
from embharness.results.item_metrics import MetricSpec

RETRIEVAL_METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")
# mteb score name → pytrec_eval measure prefix (all rounded by mteb to 5 decimals per subset)
PYTREC = {"ndcg": "ndcg_cut_", "map": "map_cut_", "recall": "recall_", "precision": "P_"}
PYTREC["hit_rate"] = "success_"
RANKED = re.compile(r"^(ndcg|map|recall|precision|hit_rate|mrr)_at_(\d+)$")
PAIR_FUNCTIONS = (  # mteb's AbsTaskPairClassification._compute_metrics: name, key, higher=similar
    ("similarity", "similarity_scores", True),
    ("cosine", "cosine_scores", True),
    ("manhattan", "manhattan_distances", False),
    ("euclidean", "euclidean_distances", False),
    ("dot", "dot_scores", True),
)
PAIR_METRICS = ("accuracy", "f1", "precision", "recall", "ap")
STS_FUNCTIONS = (  # mteb's STSMetrics: metric prefix, column
    ("", "similarity"),
    ("cosine_", "cosine"),
    ("manhattan_", "manhattan"),
    ("euclidean_", "euclidean"),
)


@dataclass(frozen=True)
class Items:
    """What a builder found: the unit, the rows, how each metric is computed, a method note."""

    unit: str
    frame: pd.DataFrame
    metrics: dict[str, MetricSpec]
    method: str


def groups(predictions: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(subset, split, payload)`` for every group in a predictions file."""
    for subset, by_split in predictions.items():
        if subset == "mteb_model_meta":
            continue
        for split, payload in by_split.items():
            yield subset, split, payload


def split_data(task: Any, subset: str, split: str) -> Any:
    """The task's data for one group, looked up the way ``AbsTask.evaluate`` does."""
    if subset not in task.dataset and subset == "default":
        return task.dataset[split]
    return task.dataset[subset][split]


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        raise HarnessError(
            "the predictions file holds no split", "pass the folder mteb.evaluate wrote"
        )
    return pd.concat(parts, ignore_index=True)


# ---- retrieval and reranking -------------------------------------------------------------


def retrieval_spec(name: str) -> MetricSpec | None:
    """The per-query spec of an mteb retrieval score name, or None when it isn't a query mean."""
    found = RANKED.match(name)
    if name == "accuracy":  # make_score_dict: accuracy is Recall@1
        return MetricSpec("mean", (name,), option="recall_1", decimals=5)
    if not found:
        return None
    family, k = found.groups()
    if family == "mrr":  # computed by mteb itself, averaged without rounding
        return MetricSpec("mean", (name,), option=f"MRR@{k}")
    return MetricSpec("mean", (name,), option=f"{PYTREC[family]}{k}", decimals=5)


def _k(spec: MetricSpec) -> int:
    """The cut-off of a retrieval spec (``ndcg_cut_10``, ``MRR@10``, ``recall_1``)."""
    return int(re.split(r"[_@]", spec.option)[-1])


def _prepared_run(task: Any, qrels: dict, run: dict) -> dict[str, dict[str, float]]:
    """The saved run as mteb scores it: judged queries, identical ids dropped when asked."""
    run = {qid: dict(docs) for qid, docs in run.items() if qid in qrels}
    if task.ignore_identical_ids:  # RetrievalEvaluator.evaluate, after predictions are saved
        run = {qid: {d: s for d, s in docs.items() if d != qid} for qid, docs in run.items()}
    return run


def _reciprocal_ranks(task: Any, qrels: dict, run: dict, ks: list[int]) -> dict[str, dict]:
    """Per-query MRR@k (``MRR@k`` → {qid: value}) as mteb's ``mrr`` computes it, after its
    pre-processing: hits ordered by (score, doc id) descending, the first relevant doc's rank.

    mteb's ``mrr`` sorts every query's whole run (a Python key call per hit); the rank of the
    best relevant doc needs only a count of the hits ranked above it, one numpy comparison.
    tests/test_item_builders.py checks it against mteb's ``mrr``, exact ties included, and
    ``check_matches_aggregate`` against mteb's mean for every cell.
    """
    if task.skip_first_result:  # what calculate_retrieval_scores does before calling mrr
        run = {
            q: dict(sorted(d.items(), key=lambda x: x[1], reverse=True)[1:]) for q, d in run.items()
        }
    ranks = {qid: _first_relevant_rank(docs, qrels[qid]) for qid, docs in run.items()}
    return {
        f"MRR@{k}": {qid: 1.0 / rank if rank and rank <= k else 0.0 for qid, rank in ranks.items()}
        for k in ks
    }


def _first_relevant_rank(docs: Mapping[str, float], judged: Mapping[str, int]) -> int | None:
    """The 1-based rank, in mteb's (score, doc id) descending order, of the best-ranked doc
    with a positive judgement; None when the run holds none."""
    ranked = [(docs[doc], doc) for doc, grade in judged.items() if grade > 0 and doc in docs]
    if not ranked:
        return None
    score, doc = max(ranked)
    scores = np.fromiter(docs.values(), np.float64, len(docs))
    above = int(np.count_nonzero(scores > score))
    if np.count_nonzero(scores == score) > 1:  # exact ties: a larger doc id ranks first
        above += sum(1 for other, value in docs.items() if value == score and other > doc)
    return above + 1


def _query_rows(
    task: Any,
    qrels: dict,
    run: dict,
    metrics: dict[str, MetricSpec],
    judged: dict[str, dict[str, float]] | None = None,
) -> dict:
    """Per-query values for every query in ``qrels``; 0 where the run has no ranking.

    ``judged``: mteb's own per-query pytrec_eval scores of this run, where the runner kept
    them (``run.predictions.captured_query_scores``); computed here the way mteb does if not.
    """
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores

    ks = sorted({_k(spec) for spec in metrics.values()})
    run = _prepared_run(task, qrels, run)
    if judged is None and any(run.values()):  # pytrec_eval per query, exactly as mteb does
        judged = calculate_retrieval_scores(run, qrels, ks, task.skip_first_result).all_scores
    judged = judged or {}
    reciprocal = _reciprocal_ranks(task, qrels, run, ks)
    rows = {}
    for qid in qrels:
        values = {
            name: reciprocal.get(spec.option, {}).get(qid, 0.0)
            if spec.option.startswith("MRR@")
            else judged.get(qid, {}).get(spec.option, 0.0)
            for name, spec in metrics.items()
        }
        rows[qid] = {**values, "in_run": qid in judged}
    return rows


def retrieval_items(
    task: Any, predictions: Mapping[str, Any], query_scores: Mapping[str, Any] | None = None
) -> Items:
    """Per-query rows of a retrieval or reranking cell (pytrec_eval + mteb's MRR ranks).

    ``query_scores``: ``{subset: {split: per-query pytrec_eval scores}}`` that mteb computed
    while scoring these predictions; groups without them are computed again.
    """
    names = dict.fromkeys([task.metadata.main_score, *RETRIEVAL_METRICS])
    metrics = {n: s for n in names if (s := retrieval_spec(n)) and _has_k(task, s)}
    parts = []
    for subset, split, run in groups(predictions):
        qrels = split_data(task, subset, split)["relevant_docs"]
        qrels = {qid: docs for qid, docs in qrels.items() if len(docs) > 0}  # as mteb filters
        judged = (query_scores or {}).get(subset, {}).get(split)
        rows = _query_rows(task, qrels, run, metrics, judged)
        frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("item_id").reset_index()
        parts.append(frame.assign(split=split, subset=subset))
    method = (
        "pytrec_eval per query as mteb's calculate_retrieval_scores computes it (MRR: rank of "
        "the first relevant hit in mteb's mrr order); queries absent from the run score 0 "
        "(in_run=False); cell = mean over splits/subsets"
    )
    return Items("query", _frame(parts), metrics, method)


def _has_k(task: Any, spec: MetricSpec) -> bool:
    return _k(spec) in task.k_values


# ---- STS, pair classification, bitext mining --------------------------------------------


def sts_items(task: Any, predictions: Mapping[str, Any]) -> Items:
    """Per-pair rows of an STS cell: the model's similarities and the normalised gold score."""
    parts = []
    for subset, split, scores in groups(predictions):
        gold = [task._normalize(x) for x in split_data(task, subset, split)["score"]]
        similarity = scores["similarity_scores"]
        columns = {
            "gold": gold,
            "similarity": similarity if similarity is not None else scores["cosine_scores"],
            "cosine": scores["cosine_scores"],
            "manhattan": scores["manhattan_distances"],
            "euclidean": scores["euclidean_distances"],
        }
        frame = pd.DataFrame(columns).assign(item_id=[str(i) for i in range(len(gold))])
        parts.append(frame.assign(split=split, subset=subset))
    metrics = {
        f"{prefix}{kind}": MetricSpec(kind, ("gold", column))
        for prefix, column in STS_FUNCTIONS
        for kind in ("pearson", "spearman")
    }
    method = "per pair: model similarity and normalised gold; statistic = scipy correlation"
    return Items("pair", _frame(parts), metrics, method)


def _pair_split(task: Any, subset: str, split: str) -> Any:
    from datasets import Dataset

    data = split_data(task, subset, split)
    if task.metadata.modalities == ["text"] and len(data) == 1:  # mteb's v1 single-row layout
        data = Dataset.from_dict(data[0])
    return data


def pair_items(task: Any, predictions: Mapping[str, Any]) -> Items:
    """Per-pair rows of a pair-classification cell: the five scores mteb saved and the label."""
    parts = []
    for subset, split, scores in groups(predictions):
        labels = np.asarray(_pair_split(task, subset, split)[task.label_column_name], np.int64)
        columns = {name: scores[key] for name, key, _ in PAIR_FUNCTIONS}
        frame = pd.DataFrame({"label": labels, **columns})
        frame = frame.assign(item_id=[str(i) for i in range(len(labels))])
        parts.append(frame.assign(split=split, subset=subset))
    metrics = {
        f"{name}_{metric}": MetricSpec("pair", ("label", name), option=metric, reverse=higher)
        for name, _, higher in PAIR_FUNCTIONS
        for metric in PAIR_METRICS
    }
    for metric in PAIR_METRICS:
        metrics[f"max_{metric}"] = MetricSpec(
            "max", tuple(f"{n}_{metric}" for n, *_ in PAIR_FUNCTIONS)
        )
    method = "per pair: the five similarity scores mteb saved and the label; mteb's metric code"
    return Items("pair", _frame(parts), metrics, method)


def _bitext_groups(
    task: Any, predictions: Mapping[str, Any]
) -> Iterator[tuple[str, str, Any, Any]]:
    for subset, split, neighbours in groups(predictions):
        if subset == "parallel":  # one group per language pair, named like the hf_subset
            data = task.dataset[split]
            yield from ((pair, split, nn, data) for pair, nn in neighbours.items())
        else:
            nn = neighbours["-".join(task._DEFAULT_PAIR[0])]  # as _evaluate_subset picks it
            yield subset, split, nn, split_data(task, subset, split)


def bitext_items(task: Any, predictions: Mapping[str, Any]) -> Items:
    """Per-sentence rows of a bitext-mining cell: gold and predicted match, correct or not."""
    parts = []
    for subset, split, neighbours, data in _bitext_groups(task, predictions):
        gold = data["gold"] if "gold" in data else [(i, i) for i in range(len(data))]
        expected = [int(gold[i][1]) for i in range(len(neighbours))]
        predicted = [int(x["corpus_id"]) for x in neighbours]
        frame = pd.DataFrame({"gold": expected, "predicted": predicted})
        frame["correct"] = (frame["gold"] == frame["predicted"]).astype(np.float64)
        frame = frame.assign(item_id=[str(i) for i in range(len(frame))])
        parts.append(frame.assign(split=split, subset=subset))
    metrics = {"accuracy": MetricSpec("mean", ("correct",))}
    for option in ("precision", "recall", "f1"):
        metrics[option] = MetricSpec("bitext", ("gold", "predicted"), option=option)
    method = "per sentence: the nearest neighbour mteb saved vs gold; mteb's _compute_metrics"
    return Items("sentence", _frame(parts), metrics, method)
