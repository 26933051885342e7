"""TorchExactIndex returns each query's exact top-k; the heaps it feeds mteb are sorted heaps."""

from __future__ import annotations

import heapq
import weakref

import numpy as np
import pytest
import torch

from embharness.errors import HarnessError
from embharness.run.exact_index import TorchExactIndex
from embharness.run.search import ranked_results


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = torch.nn.functional.normalize(a, dim=1)
    b = torch.nn.functional.normalize(b, dim=1)
    return a @ b.T


def _vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)


@pytest.mark.parametrize("similarity", [None, "cosine"])  # the model's function; one matmul
@pytest.mark.parametrize("block_bytes", [None, 4 * 50 * 7])  # one block; 7 queries a block
def test_search_returns_the_exact_top_k_best_first(
    block_bytes: int | None, similarity: str | None
) -> None:
    docs, queries = _vectors(50, 16, 0), _vectors(23, 16, 1)
    index = TorchExactIndex(similarity=similarity, block_bytes=block_bytes)
    index.add_documents(docs[:20], [f"d{i}" for i in range(20)])
    index.add_documents(docs[20:], [f"d{i}" for i in range(20, 50)])  # added in two parts
    values, hits = index.search(queries, 10, similarity_fn=_cosine)

    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    want = unit(queries).astype(np.float64) @ unit(docs).astype(np.float64).T
    order = np.argsort(-want, axis=1)[:, :10]
    assert len(values) == len(hits) == 23
    for row in range(23):
        assert hits[row] == order[row].tolist()  # random vectors: no ties
        np.testing.assert_allclose(values[row], want[row, order[row]], atol=1e-6)
        assert values[row] == sorted(values[row], reverse=True)


def test_dot_product_models_are_scored_unnormalised() -> None:
    docs, queries = _vectors(40, 8, 7), _vectors(5, 8, 8)
    index = TorchExactIndex(similarity="dot")
    index.add_documents(docs, [f"d{i}" for i in range(40)])
    values, hits = index.search(queries, 5, similarity_fn=_cosine)  # not called: dot is a matmul
    want = queries.astype(np.float64) @ docs.astype(np.float64).T
    for row in range(5):
        assert hits[row] == np.argsort(-want[row])[:5].tolist()
        np.testing.assert_allclose(values[row], np.sort(want[row])[::-1][:5], rtol=1e-5)


def test_top_k_is_capped_at_the_corpus_and_clear_forgets_it() -> None:
    index = TorchExactIndex()
    index.add_documents(_vectors(4, 8, 2), ["a", "b", "c", "d"])
    values, hits = index.search(_vectors(3, 8, 3), 1000, similarity_fn=_cosine)
    assert [sorted(row) for row in hits] == [[0, 1, 2, 3]] * 3 and len(values[0]) == 4
    index.clear()
    with pytest.raises(ValueError, match="add_documents"):
        index.search(_vectors(1, 8, 3), 2, similarity_fn=_cosine)


@pytest.mark.parametrize("similarity", [None, "cosine"])
def test_reranking_scores_each_query_s_shortlist_only(similarity: str | None) -> None:
    docs, queries = _vectors(30, 8, 4), _vectors(3, 8, 5)
    ids = [f"d{i}" for i in range(30)]
    index = TorchExactIndex(similarity=similarity)
    index.add_documents(docs, ids)
    shortlists = {"q0": ["d3", "d7", "d9", "d20"], "q1": ["d1"], "q2": []}
    values, hits = index.search(
        queries, 2, _cosine, top_ranked=shortlists, query_idx_to_id={0: "q0", 1: "q1", 2: "q2"}
    )
    full = _cosine(torch.from_numpy(queries), torch.from_numpy(docs)).numpy()
    for row, qid in enumerate(["q0", "q1", "q2"]):
        cand = [ids.index(d) for d in shortlists[qid]]
        best = sorted(cand, key=lambda i: -full[row, i])[:2]
        assert hits[row] == best
        np.testing.assert_allclose(values[row], full[row, best], atol=1e-6)


def test_ranked_results_hold_what_mteb_s_heap_loop_holds_in_score_then_id_order() -> None:
    """Ties included: per query the same doc → score items as mteb's heappush-then-copy loop,
    in ascending (score, doc id) order; rows 0-4 have many exact ties, rows 5-6 none."""
    rng = np.random.default_rng(6)
    ids = [f"doc{i:02d}" for i in range(40)]
    scores = np.vstack([np.round(rng.random((5, 40)), 1), rng.random((2, 40))])
    hits = np.argsort(-scores, axis=1, kind="stable")[:, :12]
    values = np.take_along_axis(scores, hits, axis=1)
    hits_rows, value_rows = hits.tolist(), values.tolist()
    hits_rows[6], value_rows[6] = hits_rows[6][::-1], value_rows[6][::-1]  # worst first
    results = ranked_results(
        ids,
        query_idx_to_id={r: f"q{r}" for r in range(7)},
        cos_scores_top_k_idx=hits_rows,
        cos_scores_top_k_values=value_rows,
    )
    assert list(results) == [f"q{r}" for r in range(7)]
    for row in range(7):
        heap: list[tuple[float, str]] = []  # mteb's SearchEncoderWrapper loop
        for hit, score in zip(hits_rows[row], value_rows[row], strict=True):
            heapq.heappush(heap, (score, ids[hit]))
        mteb_results = {doc: score for score, doc in heap}
        ours = results[f"q{row}"]
        assert ours == mteb_results
        assert [(s, d) for d, s in ours.items()] == sorted(heap)


def _tight(max_rows: int, failed: list[weakref.ref]) -> object:
    """A stand-in similarity on a device that holds at most ``max_rows`` queries' scores: a
    larger block allocates its scores, then raises CUDA's out-of-memory error."""

    def similarity(queries: torch.Tensor, corpus: torch.Tensor) -> torch.Tensor:
        assert all(ref() is None for ref in failed), "a failed block's scores are still alive"
        scores = _cosine(queries, corpus)
        if queries.shape[0] > max_rows:
            failed.append(weakref.ref(scores))
            raise torch.cuda.OutOfMemoryError("stand-in: CUDA out of memory")
        return scores

    return similarity


def test_a_block_that_runs_out_of_memory_is_scored_again_at_half_the_rows() -> None:
    """10-query blocks fail, then 5-query blocks; 2-query blocks fit and are kept. The top-k
    equals a search that never ran out, and each failed block's scores were freed before
    the retry (weak references, checked at the next call)."""
    docs, queries = _vectors(50, 16, 9), _vectors(23, 16, 10)
    ids = [f"d{i}" for i in range(50)]
    failed: list[weakref.ref] = []
    index = TorchExactIndex(block_bytes=4 * 50 * 10)  # 10 queries a block
    index.add_documents(docs, ids)
    values, hits = index.search(queries, 5, similarity_fn=_tight(3, failed))
    reference = TorchExactIndex()
    reference.add_documents(docs, ids)
    want_values, want_hits = reference.search(queries, 5, similarity_fn=_cosine)
    assert hits == want_hits
    np.testing.assert_allclose(values, want_values, atol=1e-6)
    assert index.oom_retries == len(failed) == 2
    assert all(ref() is None for ref in failed)


def test_one_query_that_does_not_fit_names_the_fix() -> None:
    index = TorchExactIndex()
    index.add_documents(_vectors(20, 8, 11), [f"d{i}" for i in range(20)])
    with pytest.raises(HarnessError, match=r"out of device memory.*fewer --score-workers"):
        index.search(_vectors(4, 8, 12), 3, similarity_fn=_tight(0, []))
