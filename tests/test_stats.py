"""Bootstrap CIs, paired tests and Holm, checked against scipy called directly.

Synthetic per-query arrays with a known shift; no model. Every random draw has a fixed seed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from sklearn.metrics import average_precision_score

from embharness.errors import HarnessError
from embharness.results.item_metrics import MetricSpec, evaluate
from embharness.results.per_query import PerItemScores
from embharness.results.stats import (
    Interval,
    bootstrap_ci,
    fmt_ci,
    fmt_pm,
    footnote,
    holm,
    p_value_footnote,
    paired_difference,
)

RNG = np.random.default_rng(20240601)
QUERIES = RNG.beta(2, 1, 164)  # an nDCG-like per-query column in [0, 1]


def mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(b, axis=axis) - np.mean(a, axis=axis)


def sts_cell(gold: np.ndarray, model: np.ndarray, subset: list[str] | None = None) -> PerItemScores:
    """A synthetic STS-like cell whose statistic is Spearman(gold, model)."""
    frame = pd.DataFrame(
        {
            "split": "test",
            "subset": subset or ["default"] * len(gold),
            "item_id": [str(i) for i in range(len(gold))],
            "gold": gold,
            "cosine": model,
        }
    )
    metrics = {"cosine_spearman": MetricSpec("spearman", ("gold", "cosine"))}
    return PerItemScores("Synthetic", "STS", "cosine_spearman", "pair", metrics, frame)


@pytest.mark.parametrize("method", ["BCa", "percentile"])
def test_bootstrap_of_a_mean_is_scipys(method: str) -> None:
    ci = bootstrap_ci(PerItemScores.from_values(QUERIES), n_resamples=2000, seed=7, method=method)
    want = ss.bootstrap(
        (QUERIES,), np.mean, n_resamples=2000, method=method, rng=np.random.default_rng(7)
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(want.confidence_interval), abs=1e-12)
    assert ci.point == pytest.approx(QUERIES.mean(), abs=1e-15)
    assert (ci.method, ci.n, ci.n_resamples, ci.seed, ci.note) == (method, 164, 2000, 7, "")


def test_spearman_resamples_whole_pairs() -> None:
    gold = RNG.integers(0, 6, 80).astype(float)
    model = gold + RNG.normal(0, 2, 80)
    ci = bootstrap_ci(sts_cell(gold, model), n_resamples=1000, seed=3)
    want = ss.bootstrap(
        (gold, model),
        lambda g, m: ss.spearmanr(g, m).statistic,
        paired=True,
        vectorized=False,
        n_resamples=1000,
        rng=np.random.default_rng(3),
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(want.confidence_interval), abs=1e-9)
    assert ci.point == pytest.approx(ss.spearmanr(gold, model).statistic, abs=1e-12)
    assert ci.unit == "pair" and ci.low < ci.point < ci.high


def test_groups_are_resampled_separately_and_averaged() -> None:
    first, second = QUERIES[:100], QUERIES[100:] * 0.5
    frame = pd.DataFrame(
        {
            "split": "test",
            "subset": ["en"] * 100 + ["fr"] * 64,
            "item_id": [str(i) for i in range(164)],
            "score": np.concatenate([first, second]),
        }
    )
    items = PerItemScores(
        "T", "Retrieval", "score", "query", {"score": MetricSpec("mean", ("score",))}, frame
    )
    ci = bootstrap_ci(items, n_resamples=1500, seed=1)
    want = ss.bootstrap(
        (first, second),
        lambda a, b, axis=-1: (a.mean(axis=axis) + b.mean(axis=axis)) / 2,
        n_resamples=1500,
        rng=np.random.default_rng(1),
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(want.confidence_interval), abs=1e-12)
    assert ci.point == pytest.approx((first.mean() + second.mean()) / 2)  # mteb's mean of subsets
    assert ci.n_groups == 2 and "stratified by 2" in footnote(ci)


def test_ci_coverage_is_close_to_nominal() -> None:
    """300 synthetic cells of 100 queries from Beta(2, 5) (true mean 2/7), 1,000 resamples each.

    If the true coverage is 0.95, the hit count is Binomial(300, 0.95): sd = 0.0126, so the band
    0.92–0.98 is about ±2.4 sd (a correct method falls outside it about 1.6 % of the time; with
    the fixed seed the outcome is deterministic). Coverage below 0.92 or above 0.98 means the
    intervals are too narrow or too wide.
    """
    draws = np.random.default_rng(99).beta(2, 5, (300, 100))
    hits = 0
    for i, values in enumerate(draws):
        ci = bootstrap_ci(PerItemScores.from_values(values), n_resamples=1000, seed=i)
        hits += ci.low <= 2 / 7 <= ci.high
    assert 0.92 <= hits / len(draws) <= 0.98


def test_paired_difference_is_scipys_and_detects_a_shift() -> None:
    base = QUERIES
    better = np.clip(base + 0.05 + RNG.normal(0, 0.1, len(base)), 0, 1)
    diff = paired_difference(
        PerItemScores.from_values(base), PerItemScores.from_values(better), n_resamples=3000
    )
    want = ss.bootstrap(
        (base, better), mean_diff, paired=True, n_resamples=3000, rng=np.random.default_rng(0)
    )
    test = ss.permutation_test(
        (base, better), mean_diff, permutation_type="samples", n_resamples=3000,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert (diff.delta.low, diff.delta.high) == pytest.approx(
        tuple(want.confidence_interval), abs=1e-12
    )
    assert diff.p_value == pytest.approx(test.pvalue, abs=1e-15)
    assert diff.delta.point == pytest.approx(better.mean() - base.mean(), abs=1e-12)
    assert (diff.a, diff.b) == pytest.approx((base.mean(), better.mean()))
    assert diff.p_value < 0.01 and 0 < diff.delta.low < diff.delta.high
    assert diff.delta.low < better.mean() - base.mean() < diff.delta.high
    assert "3,000 random permutations" in p_value_footnote(diff)


def test_identical_cells_have_no_difference() -> None:
    cell = PerItemScores.from_values(QUERIES)
    diff = paired_difference(cell, PerItemScores.from_values(QUERIES.copy()), n_resamples=1000)
    assert (diff.delta.point, diff.delta.low, diff.delta.high, diff.p_value) == (0, 0, 0, 1)
    assert diff.delta.method == "percentile" and "BCa undefined" in diff.delta.note


def test_paired_difference_aligns_by_item_id() -> None:
    ids = [f"q{i}" for i in range(len(QUERIES))]
    other = QUERIES[::-1] * 0.9
    a = PerItemScores.from_values(QUERIES, ids=ids)
    b = PerItemScores.from_values(other, ids=ids)
    order = RNG.permutation(len(ids))
    shuffled = PerItemScores.from_values(other[order], ids=[ids[i] for i in order])
    assert paired_difference(a, shuffled, n_resamples=500) == paired_difference(
        a, b, n_resamples=500
    )
    fewer = PerItemScores.from_values(other[:-3], ids=ids[:-3])
    with pytest.raises(HarnessError, match="3 ids only in the first, 0 only in the second"):
        paired_difference(a, fewer)
    renamed = PerItemScores.from_values(other, ids=[*ids[:-1], "new"])
    with pytest.raises(HarnessError, match="1 ids only in the first, 1 only in the second"):
        paired_difference(a, renamed)


def test_paired_spearman_permutes_pairs_between_cells() -> None:
    gold = RNG.integers(0, 6, 40).astype(float)
    noisy, sharper = gold + RNG.normal(0, 3, 40), gold + RNG.normal(0, 1, 40)

    def delta(x: np.ndarray, y: np.ndarray) -> float:
        return ss.spearmanr(gold, y).statistic - ss.spearmanr(gold, x).statistic

    diff = paired_difference(sts_cell(gold, noisy), sts_cell(gold, sharper), n_resamples=999)
    test = ss.permutation_test(
        (noisy, sharper), delta, permutation_type="samples", vectorized=False,
        n_resamples=999, rng=np.random.default_rng(0),
    )  # fmt: skip
    assert diff.p_value == pytest.approx(test.pvalue, abs=1e-15)
    assert diff.delta.point == pytest.approx(delta(noisy, sharper), abs=1e-12)


def test_pair_classification_statistic_is_recomputed_per_resample() -> None:
    labels = RNG.integers(0, 2, 60)
    scores = labels * 0.3 + RNG.normal(0, 0.3, 60)
    frame = pd.DataFrame(
        {"split": "test", "subset": "default", "item_id": [str(i) for i in range(60)]}
    ).assign(label=labels, similarity=scores)
    spec = MetricSpec("pair", ("label", "similarity"), option="ap")
    items = PerItemScores(
        "T", "PairClassification", "similarity_ap", "pair", {"similarity_ap": spec}, frame
    )
    ci = bootstrap_ci(items, n_resamples=300, seed=5, method="percentile")
    want = ss.bootstrap(
        (labels, scores),
        average_precision_score,
        paired=True,
        vectorized=False,
        n_resamples=300,
        method="percentile",
        rng=np.random.default_rng(5),
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(want.confidence_interval), abs=1e-12)


@pytest.mark.filterwarnings("ignore:No positive class found")
def test_batched_statistics_equal_mtebs_calls_per_resample() -> None:
    """The vectorised AP and weighted P/R/F1 used on resamples equal mteb's sklearn calls."""
    labels, scores = RNG.integers(0, 2, 30), RNG.integers(0, 5, 30).astype(float)  # many ties
    gold = RNG.integers(0, 8, 30)
    predicted = np.where(RNG.random(30) < 0.5, gold, RNG.integers(0, 10, 30))
    columns = {"label": labels, "score": scores, "gold": gold, "predicted": predicted}
    metrics = {
        "ap": MetricSpec("pair", ("label", "score"), option="ap", reverse=False),
        "ap_similar": MetricSpec("pair", ("label", "score"), option="ap"),
        **{o: MetricSpec("bitext", ("gold", "predicted"), option=o) for o in ("precision", "f1")},
        "recall": MetricSpec("bitext", ("gold", "predicted"), option="recall"),
    }
    idx = RNG.integers(0, 30, (100, 30))
    idx[0] = np.flatnonzero(labels == 0)[0]  # one resample without a positive pair
    for name in metrics:
        batched = evaluate(metrics, name, columns, idx)
        exact = [float(evaluate(metrics, name, columns, row)) for row in idx]
        np.testing.assert_allclose(batched, exact, rtol=0, atol=1e-12)


def test_large_cells_use_the_percentile_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("embharness.results.stats.BCA_MAX_ITEMS", 100)
    ci = bootstrap_ci(PerItemScores.from_values(QUERIES), n_resamples=500, seed=2)
    want = ss.bootstrap(
        (QUERIES,), np.mean, n_resamples=500, method="percentile", rng=np.random.default_rng(2)
    )
    assert (ci.low, ci.high) == pytest.approx(tuple(want.confidence_interval), abs=1e-12)
    assert ci.method == "percentile" and "above 100 items" in footnote(ci)


def test_constant_items_fall_back_to_percentile() -> None:
    ci = bootstrap_ci(PerItemScores.from_values([0.5] * 30), n_resamples=200)
    assert (ci.point, ci.low, ci.high, ci.method) == (0.5, 0.5, 0.5, "percentile")
    assert "BCa undefined" in ci.note and "BCa undefined" in footnote(ci)


def test_bad_inputs_are_one_line_errors() -> None:
    cell = PerItemScores.from_values(QUERIES)
    with pytest.raises(HarnessError, match="unknown bootstrap method"):
        bootstrap_ci(cell, method="studentized")
    with pytest.raises(HarnessError, match="no per-item metric 'ndcg_at_10'"):
        bootstrap_ci(cell, "ndcg_at_10")
    with pytest.raises(HarnessError, match="fewer than 2 items"):
        bootstrap_ci(PerItemScores.from_values([0.3]))
    with pytest.raises(HarnessError, match="no per-item scores"):
        bootstrap_ci(PerItemScores.unavailable("v-measure scores a whole partition"))


def holm_by_closure(p: list[float]) -> list[float]:
    """Holm as the closed Bonferroni procedure: p_adj(i) = max over S ∋ i of min(1, |S|·min p_S)."""
    m = len(p)
    out = []
    for i in range(m):
        worst = 0.0
        for size in range(1, m + 1):
            for subset in itertools.combinations(range(m), size):
                if i in subset:
                    worst = max(worst, min(1.0, size * min(p[j] for j in subset)))
        out.append(worst)
    return out


def test_holm_by_hand() -> None:
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_holm_matches_the_closure_principle() -> None:
    rng = np.random.default_rng(11)
    for m in range(1, 7):
        for _ in range(20):
            p = list(rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3))
            p[rng.integers(0, m)] = p[0]  # ties are handled too
            assert holm(p) == pytest.approx(holm_by_closure(p), abs=1e-12)
    with pytest.raises(HarnessError, match=r"in \[0, 1\]"):
        holm([0.2, 1.5])


def test_formatting_in_points() -> None:
    ci = Interval("ndcg_at_10", 0.66541, 0.629, 0.701, "BCa", 0.95, 164, 1, 10_000, 0, "query")
    assert fmt_pm(ci) == "66.5 ± 3.6"
    assert fmt_ci(ci) == "[62.9, 70.1]"
    assert fmt_pm(ci, decimals=2) == "66.54 ± 3.60"
    delta = Interval("ndcg_at_10", 0.012, -0.003, 0.028, "BCa", 0.95, 164, 1, 10_000, 0, "query")
    assert fmt_pm(delta, signed=True) == "+1.2 ± 1.6" and fmt_ci(delta) == "[-0.3, 2.8]"
    assert footnote(ci) == (
        "95% CI: BCa bootstrap over 164 queries (10,000 resamples, seed 0); "
        "± is half the interval width"
    )
