"""``results.paired``: cell-by-cell paired comparisons, checked against scipy called directly.

Synthetic per-item files (``PerItemScores``) with known shifts, in two subsets, saved as the
runner saves them; no model. Every random draw has a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from embharness.errors import HarnessError
from embharness.results.item_metrics import MetricSpec
from embharness.results.paired import (
    B_HIGHER,
    B_LOWER,
    NO_ITEMS,
    NOT_PAIRED,
    WITHIN_NOISE,
    ItemsRef,
    ScoredCell,
    check_alpha,
    compare_pairs,
    file_sha256,
    restrict,
    significance_order,
)
from embharness.results.per_query import PerItemScores

RNG = np.random.default_rng(7)
N = 120
BASE = {"x": RNG.beta(2, 1, N), "y": RNG.beta(2, 2, N)}
RESAMPLES = 1500


def mean_diff(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(b, axis=axis) - np.mean(a, axis=axis)


def _ids(values: np.ndarray) -> list[str]:
    return [f"q{i}" for i in range(len(values))]


def two_subset_items(values: dict[str, np.ndarray]) -> PerItemScores:
    """A retrieval-like cell with subsets ``x`` and ``y`` whose statistic is the mean."""
    frame = pd.concat(
        [
            pd.DataFrame({"split": "test", "subset": sub, "item_id": _ids(v), "ndcg_at_10": v})
            for sub, v in values.items()
        ],
        ignore_index=True,
    )
    metrics = {"ndcg_at_10": MetricSpec("mean", ("ndcg_at_10",))}
    return PerItemScores("Synthetic", "Retrieval", "ndcg_at_10", "query", metrics, frame, "test")


def saved(tmp_path: Path, name: str, values: dict[str, np.ndarray]) -> Path:
    path = tmp_path / f"{name}.items.parquet"
    two_subset_items(values).save(path)
    return path


def cell(path: Path | None, subset: str, score: float, experiment: str | None = None):
    ref = ItemsRef(path, "test", subset) if path is not None else None
    reason = "" if path is not None else "classifier fitted on the train split"
    return ScoredCell(
        "org/m", "rev", experiment, "Synthetic", "test", subset, "ndcg_at_10", score, ref, reason
    )


def holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def test_restrict_keeps_one_group() -> None:
    items = two_subset_items(BASE)
    only_y = restrict(items, "test", "y")
    assert only_y.n_items == N and set(only_y.frame["subset"]) == {"y"}
    assert only_y.aggregate() == pytest.approx(BASE["y"].mean(), abs=1e-12)
    with pytest.raises(HarnessError, match="no per-item scores for test/z"):
        restrict(items, "test", "z")


def test_each_subset_is_scipys_paired_test(tmp_path: Path) -> None:
    shifted = {"x": np.clip(BASE["x"] - 0.08 + RNG.normal(0, 0.05, N), 0, 1), "y": BASE["y"]}
    a, b = saved(tmp_path, "a", BASE), saved(tmp_path, "b", shifted)
    pairs = [
        (("x",), cell(a, "x", BASE["x"].mean()), cell(b, "x", shifted["x"].mean())),
        (("y",), cell(a, "y", BASE["y"].mean()), cell(b, "y", shifted["y"].mean())),
    ]
    rows = compare_pairs(pairs, alpha=0.05, n_resamples=RESAMPLES)
    for row, sub in zip(rows, ("x", "y"), strict=True):
        method = "BCa" if sub == "x" else "percentile"  # identical items: BCa is undefined
        assert row.test is not None and row.test.delta.method == method
        want_ci = ss.bootstrap(
            (BASE[sub], shifted[sub]), mean_diff, paired=True, n_resamples=RESAMPLES,
            method=method, rng=np.random.default_rng(0),
        ).confidence_interval  # fmt: skip
        want_p = ss.permutation_test(
            (BASE[sub], shifted[sub]), mean_diff, permutation_type="samples",
            n_resamples=RESAMPLES, rng=np.random.default_rng(0),
        ).pvalue  # fmt: skip
        assert row.ci == pytest.approx((want_ci[0] * 100, want_ci[1] * 100), abs=1e-9)
        assert row.p == pytest.approx(want_p, abs=1e-15)
        assert row.delta == pytest.approx((shifted[sub].mean() - BASE[sub].mean()) * 100, abs=1e-5)
        assert row.n_items == N
    assert rows[0].verdict == B_LOWER and rows[0].ci is not None and rows[0].ci[1] < 0
    assert rows[1].verdict == WITHIN_NOISE and rows[1].delta == 0 and rows[1].p == 1
    assert [r.p_holm for r in rows] == pytest.approx(holm_by_hand([r.p for r in rows]))


def test_holm_family_is_the_tested_cells_and_sets_the_verdicts(tmp_path: Path) -> None:
    shifts = {"big": 0.12, "small": 0.02, "none": 0.0}
    base = saved(tmp_path, "base", BASE)
    pairs, raw = [], []
    for name, shift in shifts.items():
        values = {k: np.clip(v + shift + RNG.normal(0, 0.04, N), 0, 1) for k, v in BASE.items()}
        path = saved(tmp_path, name, values)
        pairs.append(((name,), cell(base, "x", 0.5), cell(path, "x", 0.5 + shift)))
        raw.append(values["x"])
    pairs.append((("untested",), cell(None, "x", 0.5), cell(None, "x", 0.4)))
    rows = compare_pairs(pairs, alpha=0.05, n_resamples=RESAMPLES)
    tested = [r for r in rows if r.test is not None]
    assert len(tested) == 3
    assert [r.p_holm for r in tested] == pytest.approx(holm_by_hand([r.p for r in tested]))
    for row in tested:
        want = WITHIN_NOISE
        if row.p_holm <= 0.05:
            want = B_HIGHER if row.test.delta.point > 0 else B_LOWER
        assert row.verdict == want
    assert rows[0].verdict == B_HIGHER  # +12 points on 120 items is far beyond noise
    untested = rows[-1]
    assert untested.verdict == NO_ITEMS and untested.p is None and untested.p_holm is None
    assert untested.delta == pytest.approx(-10.0)
    assert untested.note == "no per-item scores in A: classifier fitted on the train split"
    ordered = sorted(rows, key=significance_order)
    assert ordered[-1] is untested and ordered[0].p_holm == min(r.p_holm for r in tested)


def test_cells_scoring_different_items_are_not_paired(tmp_path: Path) -> None:
    a = saved(tmp_path, "a", BASE)
    b = saved(tmp_path, "b", {"x": BASE["x"][:-5], "y": BASE["y"]})
    (row,) = compare_pairs([(("x",), cell(a, "x", 0.5), cell(b, "x", 0.5))], n_resamples=100)
    assert row.verdict == NOT_PAIRED and "5 ids only in the first" in row.note
    assert row.delta == 0 and row.p is None


def test_items_ref_checks_the_recorded_checksum(tmp_path: Path) -> None:
    path = saved(tmp_path, "a", BASE)
    ref = ItemsRef(path, "test", "x", sha256=file_sha256(path))
    assert ref.load().n_items == N
    saved(tmp_path, "a", {"x": BASE["x"][::-1], "y": BASE["y"]})  # same name, other bytes
    with pytest.raises(HarnessError, match="do not match the checksum"):
        ref.load()
    with pytest.raises(HarnessError, match="are missing"):
        ItemsRef(tmp_path / "none.parquet").load()


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 2])
def test_bad_alpha_and_resamples(alpha: float) -> None:
    with pytest.raises(HarnessError, match="alpha"):
        check_alpha(alpha)
    with pytest.raises(HarnessError, match="resamples"):
        compare_pairs([], n_resamples=0)
