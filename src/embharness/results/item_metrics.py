"""How a cell statistic is computed from per-item rows: one ``MetricSpec`` per metric.

A spec names a statistic *kind* and the frame columns it reads. Every kind is evaluated on row
positions ``idx`` of shape ``(..., n)``, so the same code gives the exact cell value (1-D ``idx``)
and whole batches of bootstrap or permutation resamples (2-D ``idx``):

``mean``      mean of one column (retrieval per-query metrics, bitext ``accuracy``).
``spearman``  ``scipy.stats.spearmanr(gold, model)``, as mteb's STS ``compute_corr``; batches
              use ``rankdata`` + ``pearsonr`` along the last axis (the same statistic).
``pearson``   ``scipy.stats.pearsonr(gold, model)``, as mteb's STS ``compute_corr``.
``pair``      pair classification on ``(label, score)``: ``ap`` is mteb's own
              ``average_precision_score`` call; ``accuracy``/``f1``/``precision``/``recall`` come
              from mteb's ``_find_best_acc_and_threshold`` / ``_find_best_f1_and_threshold``.
``max``       the maximum of the metrics named in ``columns`` (mteb's ``max_ap``, ``max_f1`` …).
``bitext``    ``precision``/``recall``/``f1`` on ``(gold, predicted)`` via mteb's bitext
              ``_compute_metrics`` (sklearn, weighted averages).

The exact value (1-D ``idx``) is always the call mteb makes. For batches, ``spearman``,
``pearson``, ``ap`` and ``bitext`` use numpy/scipy formulations of the same statistic (tests check
them against sklearn/scipy on resamples with ties), because per-resample sklearn calls would make
a 10,000-resample BCa interval take hours on a few thousand items; the threshold-searching
``pair`` metrics (accuracy, f1, precision, recall) loop over resamples with mteb's code.

``decimals`` is the rounding mteb applies to the metric per subset (``round(mean, 5)`` for the
pytrec_eval retrieval metrics), used only when comparing with mteb's aggregate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import pearsonr, rankdata, spearmanr

from embharness.errors import HarnessError

Columns = Mapping[str, NDArray[Any]]
KINDS = ("mean", "spearman", "pearson", "pair", "max", "bitext")


@dataclass(frozen=True)
class MetricSpec:
    """How one metric's cell statistic is computed from the per-item columns."""

    kind: str
    columns: tuple[str, ...]
    option: str = ""
    reverse: bool = True
    decimals: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for the parquet metadata)."""
        return {**asdict(self), "columns": list(self.columns)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricSpec:
        """The spec written by ``to_json``."""
        spec = cls(**{**data, "columns": tuple(data["columns"])})
        if spec.kind not in KINDS:
            raise HarnessError(
                f"unknown per-item statistic {spec.kind!r}", "upgrade embharness to read this file"
            )
        return spec


def _per_row(
    idx: NDArray[np.intp], function: Callable[[NDArray[np.intp]], float]
) -> NDArray[np.float64]:
    """Apply a scalar statistic to every resample (last axis) of ``idx``."""
    flat = idx.reshape(-1, idx.shape[-1])
    values = np.fromiter((function(row) for row in flat), dtype=np.float64, count=len(flat))
    return values.reshape(idx.shape[:-1])


def _correlation(spec: MetricSpec, columns: Columns, idx: NDArray[np.intp]) -> NDArray[np.float64]:
    gold, model = (columns[name][idx] for name in spec.columns)
    if idx.ndim == 1:  # the exact value: the very call mteb's compute_corr makes
        function = spearmanr if spec.kind == "spearman" else pearsonr
        return np.asarray(float(function(gold, model)[0]))
    if spec.kind == "spearman":
        gold, model = rankdata(gold, axis=-1), rankdata(model, axis=-1)
    return np.asarray(pearsonr(gold, model, axis=-1).statistic, dtype=np.float64)


def _batched_ap(labels: NDArray[Any], scores: NDArray[Any]) -> NDArray[np.float64]:
    """sklearn's ``average_precision_score`` along the last axis (tied scores form one step)."""
    order = np.argsort(-scores, axis=-1, kind="stable")
    ranked = np.take_along_axis(scores, order, axis=-1)
    hits = np.cumsum(np.take_along_axis(labels, order, axis=-1), axis=-1, dtype=np.float64)
    last = np.ones(ranked.shape, dtype=bool)  # the last row of each group of tied scores
    last[..., :-1] = ranked[..., :-1] != ranked[..., 1:]
    before = np.maximum.accumulate(np.where(last, hits, 0.0), axis=-1)[..., :-1]
    gained = np.where(last, hits - np.concatenate([np.zeros_like(hits[..., :1]), before], -1), 0)
    precision = hits / np.arange(1, hits.shape[-1] + 1)
    positives = hits[..., -1]
    total = (gained * precision).sum(axis=-1)
    return np.where(positives > 0, total / np.maximum(positives, 1), 0.0)


def _pair(spec: MetricSpec, columns: Columns, idx: NDArray[np.intp]) -> NDArray[np.float64]:
    labels = np.asarray(columns[spec.columns[0]], dtype=np.int64)
    scores = np.asarray(columns[spec.columns[1]], dtype=np.float64)
    if spec.option == "ap" and idx.ndim > 1:
        return _batched_ap(labels[idx], scores[idx] * (1 if spec.reverse else -1))
    return _per_row(idx, lambda row: _pair_value(spec, labels[row], scores[row]))


def _pair_value(spec: MetricSpec, labels: NDArray[np.int64], scores: NDArray[Any]) -> float:
    from sklearn.metrics import average_precision_score

    if spec.option == "ap":  # mteb's _compute_metrics_values line, verbatim
        sign = 1 if spec.reverse else -1
        return float(average_precision_score(labels, np.array(scores) * sign))
    task = _stateless("pair")
    if spec.option == "accuracy":
        return float(task._find_best_acc_and_threshold(list(scores), labels, spec.reverse)[0])
    f1, precision, recall, _ = task._find_best_f1_and_threshold(list(scores), labels, spec.reverse)
    return float({"f1": f1, "precision": precision, "recall": recall}[spec.option])


def _batched_weighted(gold: NDArray[Any], predicted: NDArray[Any], option: str) -> NDArray[Any]:
    """sklearn's weighted ``precision``/``recall``/``f1`` (zero_division=0) along the last axis."""
    rows, n = gold.reshape(-1, gold.shape[-1]), gold.shape[-1]
    guesses = predicted.reshape(-1, n)
    size = int(max(rows.max(), guesses.max())) + 1
    offset = (np.arange(len(rows)) * size)[:, None]

    def count(values: NDArray[Any], weights: NDArray[Any] | None = None) -> NDArray[np.float64]:
        flat = weights.ravel() if weights is not None else None
        found = np.bincount((values + offset).ravel(), flat, minlength=len(rows) * size)
        return found.reshape(len(rows), size).astype(np.float64)

    true, guessed = count(rows), count(guesses)
    hits = count(rows, (rows == guesses).astype(np.float64))
    top, bottom = {"precision": (hits, guessed), "recall": (hits, true)}.get(
        option, (2 * hits, true + guessed)
    )
    per_label = np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)
    weighted = (per_label * true).sum(axis=1) / true.sum(axis=1)
    return np.asarray(weighted.reshape(gold.shape[:-1]), dtype=np.float64)


def _bitext(spec: MetricSpec, columns: Columns, idx: NDArray[np.intp]) -> NDArray[np.float64]:
    gold, predicted = (np.asarray(columns[name], dtype=np.int64)[idx] for name in spec.columns)
    if idx.ndim > 1:
        return _batched_weighted(gold, predicted, spec.option)
    neighbours: list[dict[str, float]] = [{"corpus_id": int(p)} for p in predicted]
    pairs = [(i, int(g)) for i, g in enumerate(gold)]
    return np.asarray(float(_stateless("bitext")._compute_metrics(neighbours, pairs)[spec.option]))


def _stateless(kind: str) -> Any:
    """A bare mteb task instance to call its self-free metric methods (no data, no __init__)."""
    if kind == "pair":
        from mteb.abstasks.pair_classification import AbsTaskPairClassification

        return object.__new__(AbsTaskPairClassification)
    from mteb.abstasks.text.bitext_mining import AbsTaskBitextMining

    return object.__new__(AbsTaskBitextMining)


def evaluate(
    metrics: Mapping[str, MetricSpec], name: str, columns: Columns, idx: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Metric ``name`` on rows ``idx`` (shape ``(..., n)``); one value per leading index."""
    spec = metrics[name]
    if spec.kind == "mean":
        return np.asarray(np.mean(columns[spec.columns[0]][idx], axis=-1), dtype=np.float64)
    if spec.kind in ("spearman", "pearson"):
        return _correlation(spec, columns, idx)
    if spec.kind == "max":
        parts = [evaluate(metrics, part, columns, idx) for part in spec.columns]
        return np.asarray(np.max(parts, axis=0), dtype=np.float64)
    if spec.kind == "pair":
        return _pair(spec, columns, idx)
    if spec.kind == "bitext":
        return _bitext(spec, columns, idx)
    raise HarnessError(f"unknown per-item statistic {spec.kind!r}", f"use one of {KINDS}")


def columns_needed(metrics: Mapping[str, MetricSpec], name: str) -> set[str]:
    """The frame columns metric ``name`` reads (following ``max`` to its parts)."""
    spec = metrics[name]
    if spec.kind == "max":
        return set().union(*(columns_needed(metrics, part) for part in spec.columns))
    return set(spec.columns)


def statistic_name(metrics: Mapping[str, MetricSpec], name: str) -> str:
    """A short human name of how ``name`` is computed: ``mean``, ``spearman``, ``pair:ap``…"""
    spec = metrics[name]
    return f"{spec.kind}:{spec.option}" if spec.kind in ("pair", "bitext") else spec.kind
