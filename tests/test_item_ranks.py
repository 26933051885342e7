"""Per-query MRR from ranks equals mteb's own ``mrr``, exact score ties included."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from mteb._evaluators.retrieval_metrics import mrr

from embharness.results.item_builders import _reciprocal_ranks

KS = [1, 3, 10, 100]


def _runs(seed: int, queries: int = 60, docs: int = 150) -> tuple[dict, dict]:
    """Random runs with many exact ties (scores on a coarse grid) and random judgements,
    some queries with no relevant doc in their run, some with zero-graded docs only."""
    rng = np.random.default_rng(seed)
    run, qrels = {}, {}
    for q in range(queries):
        hits = rng.choice(docs, size=int(rng.integers(1, 120)), replace=False)
        scores = np.round(rng.random(len(hits)), 1 if q % 2 else 3)
        run[f"q{q}"] = {f"d{h}": float(s) for h, s in zip(hits, scores, strict=True)}
        judged = rng.choice(docs, size=int(rng.integers(1, 4)), replace=False)
        qrels[f"q{q}"] = {f"d{d}": int(rng.integers(0, 3)) for d in judged}
    return run, qrels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("skip_first", [False, True])
def test_reciprocal_ranks_equal_mteb_mrr(seed: int, skip_first: bool) -> None:
    run, qrels = _runs(seed)
    task = SimpleNamespace(skip_first_result=skip_first)
    ours = _reciprocal_ranks(task, qrels, run, KS)

    theirs_run = run
    if skip_first:  # calculate_retrieval_scores' own pre-processing, applied before mrr
        theirs_run = {
            q: dict(sorted(d.items(), key=lambda x: x[1], reverse=True)[1:]) for q, d in run.items()
        }
    theirs = mrr(qrels, theirs_run, KS)
    assert set(ours) == {f"MRR@{k}" for k in KS}
    nonzero = 0
    for key, values in theirs.items():
        assert list(ours[key]) == list(theirs_run)
        assert list(ours[key].values()) == values, key  # exact, not approximate
        nonzero += sum(v > 0 for v in values)
    assert nonzero > 0  # the runs do rank relevant docs


def test_tied_docs_rank_by_doc_id_descending() -> None:
    """Three docs tied at the top: mteb (as pytrec_eval) ranks d9 > d5 > d1."""
    run = {"q": {"d1": 0.5, "d5": 0.5, "d9": 0.5, "d0": 0.1}}
    task = SimpleNamespace(skip_first_result=False)
    for relevant, rank in (("d9", 1), ("d5", 2), ("d1", 3), ("d0", 4)):
        got = _reciprocal_ranks(task, {"q": {relevant: 1}}, run, [10])["MRR@10"]["q"]
        assert got == pytest.approx(1 / rank)
