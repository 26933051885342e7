"""Uncertainty of cell scores from their per-item scores: bootstrap CIs, paired tests, Holm.

API (all on ``per_query.PerItemScores``; ``PerItemScores.from_values`` wraps a plain array)::

    ci = bootstrap_ci(items)                       # Interval(point, low, high, method, n, ...)
    fmt_pm(ci), fmt_ci(ci), footnote(ci)           # "66.5 ± 3.6", "[62.9, 70.1]", one line
    diff = paired_difference(base, new)            # Δ = new − base on the same items
    diff.delta (an Interval), diff.p_value         # paired bootstrap CI, randomization p
    fmt_pm(diff.delta, signed=True), p_value_footnote(diff)   # "+1.2 ± 1.6", one line
    holm([p1, p2, ...])                            # Holm-adjusted p-values, same order

Method. Items are resampled with ``scipy.stats.bootstrap``; the statistic is recomputed from
the resampled items with the cell's own statistic (a mean for retrieval, Spearman for STS,
mteb's AP for pair classification…), so Spearman-type statistics resample whole pairs. Each
(split, subset) group is passed to scipy as its own sample, so resampling is stratified and the
cell statistic stays mteb's mean over groups. Samples are row positions, exactly what scipy does
internally for ``paired=True``: with one group the results equal
``scipy.stats.bootstrap((values,), ...)`` and ``bootstrap((a, b), ..., paired=True)`` draw for
draw. BCa is the default; when it is undefined (e.g. every resample gives the same value) the
percentile interval of the same resamples is used and ``Interval.note`` says so; above
``BCA_MAX_ITEMS`` items the percentile interval is used directly (BCa's jackknife costs n
statistics of n - 1 items, and BCa and percentile agree ever more closely as n grows).

``paired_difference`` aligns items by (split, subset, item_id) and resamples them jointly for the
CI of Δ; its p-value is ``scipy.stats.permutation_test(permutation_type="samples")``, which swaps
each item's two scores at random (two-sided). Seeds are fixed, so results are reproducible.

scipy has no Holm correction (``false_discovery_control`` is Benjamini–Hochberg/Yekutieli) and
statsmodels is not a dependency, so ``holm`` is a short step-down implementation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from embharness.errors import HarnessError
from embharness.results.item_metrics import columns_needed, evaluate
from embharness.results.per_query import KEY_COLUMNS, PerItemScores

METHODS = ("BCa", "percentile")
BATCH_CELLS = 2_000_000  # resampled positions held in memory at once (scipy's ``batch``)
BCA_MAX_ITEMS = 20_000  # BCa's jackknife evaluates n statistics of n - 1 items each
Statistic = Callable[..., NDArray[np.float64]]
PLURALS = {"query": "queries"}


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap confidence interval (0–1 fractions, like mteb)."""

    metric: str
    point: float
    low: float
    high: float
    method: str
    confidence: float
    n: int
    n_groups: int
    n_resamples: int
    seed: int
    unit: str = "item"
    note: str = ""


@dataclass(frozen=True)
class PairedDifference:
    """Δ = b − a over the same items: the CI of Δ and a paired randomization p-value."""

    metric: str
    a: float
    b: float
    delta: Interval
    p_value: float
    n_permutations: int
    exact: bool


def _check_method(method: str, confidence: float, n_resamples: int) -> None:
    if method not in METHODS:
        raise HarnessError(f"unknown bootstrap method {method!r}", f"use one of {METHODS}")
    if not 0 < confidence < 1 or n_resamples < 1:
        raise HarnessError(
            f"confidence {confidence} / {n_resamples} resamples are invalid",
            "pass 0 < confidence < 1 and at least one resample",
        )


def _samples(items: PerItemScores) -> list[NDArray[np.intp]]:
    """Row positions of every (split, subset) group: scipy's independent samples."""
    groups = items.groups()
    small = [f"{split}/{subset}" for (split, subset), rows in groups.items() if len(rows) < 2]
    if small:
        raise HarnessError(
            f"{items.task_name}: groups {', '.join(small)} have fewer than 2 items",
            "a bootstrap needs at least 2 items per split and subset",
        )
    return list(groups.values())


def _batch(samples: Sequence[NDArray[np.intp]]) -> int:
    return max(1, BATCH_CELLS // max(1, sum(len(s) for s in samples)))


def _cell_statistic(items: PerItemScores, metric: str, offset: int = 0) -> Statistic:
    """The cell statistic of rows ``offset + positions``, one sample of positions per group."""
    names = columns_needed(items.metrics, metric)
    columns = {name: items.frame[name].to_numpy() for name in names}
    return _grouped(lambda idx: evaluate(items.metrics, metric, columns, idx + offset))


def _grouped(per_group: Callable[[NDArray[np.intp]], NDArray[np.float64]]) -> Statistic:
    def statistic(*samples: NDArray[Any], axis: int = -1) -> NDArray[np.float64]:
        parts = [per_group(np.asarray(s).astype(np.intp)) for s in samples]
        return np.asarray(np.mean(parts, axis=0), dtype=np.float64)

    return statistic


def _bootstrap(
    samples: Sequence[NDArray[np.intp]],
    statistic: Statistic,
    *,
    n_resamples: int,
    confidence: float,
    seed: int,
    method: str,
) -> tuple[float, float, str, str]:
    """scipy's bootstrap; BCa falls back to the percentile interval of the same resamples."""
    options: dict[str, Any] = dict(
        vectorized=True, axis=-1, confidence_level=confidence, batch=_batch(samples)
    )
    note = ""
    if method == "BCa" and sum(len(s) for s in samples) > BCA_MAX_ITEMS:
        method, note = (
            "percentile",
            f"percentile used: BCa's jackknife is O(n²) above {BCA_MAX_ITEMS:,} items",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", scipy_stats.ConstantInputWarning)
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        result = scipy_stats.bootstrap(
            tuple(samples), statistic, n_resamples=n_resamples, method=method,
            rng=np.random.default_rng(seed), **options,
        )  # fmt: skip
        low, high = (float(x) for x in result.confidence_interval)
        if method != "BCa" or (math.isfinite(low) and math.isfinite(high)):
            return low, high, method, note
        again = scipy_stats.bootstrap(
            tuple(samples), statistic, n_resamples=0, method="percentile",
            bootstrap_result=result, **options,
        )  # fmt: skip
    low, high = (float(x) for x in again.confidence_interval)
    return low, high, "percentile", "BCa undefined (degenerate resamples); percentile used"


def bootstrap_ci(
    items: PerItemScores,
    metric: str | None = None,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "BCa",
) -> Interval:
    """Bootstrap CI of the cell statistic of ``metric`` (the main score by default)."""
    _check_method(method, confidence, n_resamples)
    name = items.require(metric)
    samples = _samples(items)
    low, high, used, note = _bootstrap(
        samples, _cell_statistic(items, name), n_resamples=n_resamples,
        confidence=confidence, seed=seed, method=method,
    )  # fmt: skip
    return Interval(
        name, items.aggregate(name), low, high, used, confidence, items.n_items,
        len(samples), n_resamples, seed, items.unit or "item", note,
    )  # fmt: skip


def _aligned(a: PerItemScores, b: PerItemScores, metric: str) -> PerItemScores:
    """``b``'s rows in ``a``'s order; HarnessError when the two cells score different items."""
    if a.metrics[metric] != b.metrics[metric]:
        raise HarnessError(f"{metric} is computed differently in the two cells")
    keys_a, keys_b = (pd.MultiIndex.from_frame(x.frame[list(KEY_COLUMNS)]) for x in (a, b))
    only_a, only_b = len(keys_a.difference(keys_b)), len(keys_b.difference(keys_a))
    if only_a or only_b or keys_a.has_duplicates or keys_b.has_duplicates:
        raise HarnessError(
            f"the two cells score different items: {only_a} ids only in the first, "
            f"{only_b} only in the second",
            "compare cells of the same task, splits, subsets and sample cap",
        )
    frame = b.frame.iloc[keys_b.get_indexer(keys_a)].reset_index(drop=True)
    return PerItemScores(b.task_name, b.task_type, metric, b.unit, b.metrics, frame, b.method)


def _stacked(a: PerItemScores, b: PerItemScores, metric: str) -> PerItemScores:
    """One table with ``a``'s rows then ``b``'s: row ``i`` and ``n + i`` are the same item."""
    names = [*KEY_COLUMNS, *columns_needed(a.metrics, metric)]
    frame = pd.concat([a.frame[names], b.frame[names]], ignore_index=True)
    return PerItemScores(a.task_name, a.task_type, metric, a.unit, a.metrics, frame, a.method)


def _delta_statistic(both: PerItemScores, metric: str, n: int) -> Statistic:
    a, b = _cell_statistic(both, metric), _cell_statistic(both, metric, offset=n)
    return lambda *samples, axis=-1: b(*samples) - a(*samples)


def _permutation_statistic(
    both: PerItemScores, metric: str, groups: list[NDArray[np.intp]]
) -> Statistic:
    """Δ of the cell statistic when ``x``/``y`` hold each item's row code in the a/b table."""
    columns = {n: both.frame[n].to_numpy() for n in columns_needed(both.metrics, metric)}

    def statistic(x: NDArray[Any], y: NDArray[Any], axis: int = -1) -> NDArray[np.float64]:
        x, y = np.asarray(x).astype(np.intp), np.asarray(y).astype(np.intp)
        parts = [
            evaluate(both.metrics, metric, columns, y[..., g])
            - evaluate(both.metrics, metric, columns, x[..., g])
            for g in groups
        ]
        return np.asarray(np.mean(parts, axis=0), dtype=np.float64)

    return statistic


def paired_difference(
    a: PerItemScores,
    b: PerItemScores,
    metric: str | None = None,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    method: str = "BCa",
) -> PairedDifference:
    """Δ = b − a on the same items: paired bootstrap CI and two-sided randomization p-value.

    With random permutations the smallest possible p-value is 1 / (n_resamples + 1).
    """
    _check_method(method, confidence, n_resamples)
    name = a.require(metric)
    b.require(name)
    both, n = _stacked(a, _aligned(a, b, name), name), a.n_items
    samples = _samples(a)
    low, high, used, note = _bootstrap(
        samples, _delta_statistic(both, name, n), n_resamples=n_resamples,
        confidence=confidence, seed=seed, method=method,
    )  # fmt: skip
    point_a, point_b = a.aggregate(name), b.aggregate(name)
    delta = Interval(
        name, point_b - point_a, low, high, used, confidence, n, len(samples),
        n_resamples, seed, a.unit or "item", note,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy_stats.ConstantInputWarning)
        test = scipy_stats.permutation_test(
            (np.arange(n), np.arange(n) + n), _permutation_statistic(both, name, samples),
            permutation_type="samples", vectorized=True, n_resamples=n_resamples,
            alternative="two-sided", axis=-1, batch=_batch(samples) // 2 or 1,
            rng=np.random.default_rng(seed),
        )  # fmt: skip
    exact = 2**n <= n_resamples
    count = 2**n if exact else n_resamples
    return PairedDifference(name, point_a, point_b, delta, float(test.pvalue), count, exact)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the input order.

    With p sorted ascending, p_adj(i) = max over j <= i of min(1, (m - j + 1) * p(j)); a
    hypothesis is rejected at level alpha when its adjusted p-value is <= alpha.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise HarnessError("p-values must be a flat list of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = (len(p) - np.arange(len(p))) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return [float(x) for x in adjusted]


def fmt_pm(interval: Interval, decimals: int = 1, signed: bool = False) -> str:
    """``66.5 ± 3.6``: the point and half the interval's width, in points (×100)."""
    sign = "+" if signed else ""
    half = (interval.high - interval.low) / 2 * 100
    return f"{interval.point * 100:{sign}.{decimals}f} ± {half:.{decimals}f}"


def fmt_ci(interval: Interval, decimals: int = 1) -> str:
    """``[62.9, 70.1]``: the interval's bounds in points (×100)."""
    return f"[{interval.low * 100:.{decimals}f}, {interval.high * 100:.{decimals}f}]"


def footnote(interval: Interval) -> str:
    """One line on how the interval was made, for under a table."""
    strata = (
        f", stratified by {interval.n_groups} split/subset groups" if interval.n_groups > 1 else ""
    )
    note = f"; {interval.note}" if interval.note else ""
    units = PLURALS.get(interval.unit, f"{interval.unit}s")
    return (
        f"{interval.confidence:.0%} CI: {interval.method} bootstrap over {interval.n:,} {units} "
        f"({interval.n_resamples:,} resamples, seed {interval.seed}{strata}); "
        f"± is half the interval width{note}"
    )


def p_value_footnote(diff: PairedDifference) -> str:
    """One line on how the p-value of a paired difference was computed."""
    kind = "exact" if diff.exact else f"{diff.n_permutations:,} random"
    return (
        f"p: paired randomization test of Δ {diff.metric} (scipy permutation_test, each item's "
        f"two scores swapped; {kind} permutations, two-sided, seed {diff.delta.seed})"
    )
