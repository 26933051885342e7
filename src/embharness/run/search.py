"""How a retrieval cell ranks its corpus: an exact torch or faiss index, mteb's own search,
or an ANN faiss index.

The exact indexes go through mteb's extension point, ``SearchEncoderWrapper(index_backend=...)``:
``torch`` (the default, ``run.exact_index.TorchExactIndex``: the model's similarity and
``torch.topk`` on the encoder's device) or ``faiss`` (mteb's ``FaissSearchIndex``, ``IndexFlatIP``
on L2-normalised vectors for cosine models). mteb's metrics score the result either way; only
the ranking step differs, so an exact backend names no experiment folder
(tests/test_search_backend.py: every metric equal to mteb's own search).

Each query's hits reach mteb's metrics as a dict in ascending (score, doc id) order, built
straight from the index's rows (``ranked_results``) instead of mteb's heap per query; mteb's
metrics (``mrr``, the skip-first and confidence sorts) then sort already-ordered lists, which
Python's sort does in one pass instead of n log n key comparisons.

Ties: mteb's metrics and pytrec_eval order a query's hits by (score, doc id) descending, so
within the returned top-k the backend cannot change a rank. It could only change which of
several docs tied *exactly* at the k-th score is kept: mteb's path keeps the larger doc id
of its k+1 torch.topk candidates, faiss keeps the doc earlier in corpus order. Exact float
ties need identical vectors (duplicate texts), and they matter only to metrics at k = top_k.
Scores themselves differ by float rounding only (max 1.8e-7 on the synthetic benchmark).
"""

from __future__ import annotations

import operator
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

    from embharness.encoding.bridge import HarnessEncoder

# Task types whose full-corpus search goes through the index. Reranking-type tasks rank a
# given shortlist per query; they keep mteb's path (FaissSearchIndex's reranking builds a
# sub-index per query from reconstructed vectors in a Python loop; not measured, not tested).
INDEXED_TYPES = frozenset({"Retrieval"})
# Searches that return every query's true top-k (no approximation), the default first.
EXACT_SEARCHES = ("torch", "mteb", "faiss")


def search_model(
    encoder: HarnessEncoder,
    task: AbsTask,
    search: str,
    params: dict[str, int] | None = None,
) -> tuple[Any, str | None]:
    """What to hand ``mteb.evaluate`` for ``task``, and the search backend it will use.

    The backend is None for a task without a search (not an ``AbsTaskRetrieval``), ``mteb``
    where mteb wraps the encoder itself, ``torch`` or ``faiss`` where the corpus goes into an
    exact index, ``faiss-hnsw``/``faiss-ivfpq`` for an approximate one (``run/ann.py``, ``params``
    as ``check_search_params`` filled them).
    """
    from mteb.abstasks import AbsTaskRetrieval

    if not isinstance(task, AbsTaskRetrieval):
        return encoder, None
    if search == "mteb" or task.metadata.type not in INDEXED_TYPES:
        return encoder, "mteb"
    if search == "faiss":
        return faiss_search(encoder), "faiss"
    if search == "torch":
        return torch_search(encoder), "torch"
    from embharness.run.ann import ann_index, check_search_params

    full = check_search_params(search, params) or {}
    return indexed_search(encoder, ann_index(search, full, encoder)), search


def faiss_search(encoder: Any) -> Any:
    """mteb's ``SearchEncoderWrapper`` over ``encoder`` with an exact ``FaissSearchIndex``."""
    from mteb.models.search_encoder_index import FaissSearchIndex

    return indexed_search(encoder, FaissSearchIndex(encoder))


def torch_search(encoder: Any) -> Any:
    """mteb's ``SearchEncoderWrapper`` over ``encoder`` with an exact ``TorchExactIndex`` on
    the device the encoder's backend runs on."""
    from embharness.run.exact_index import TorchExactIndex

    device = encoder.backend.info.device if hasattr(encoder, "backend") else "cpu"
    name = encoder.mteb_model_meta.similarity_fn_name  # a ScoringFunction or its value
    similarity = str(getattr(name, "value", name)) if name else None
    return indexed_search(encoder, TorchExactIndex(device, similarity))


def indexed_search(encoder: Any, index: Any) -> Any:
    """mteb's ``SearchEncoderWrapper`` over ``encoder``, ranking through ``index`` (an object
    with mteb's index-backend methods), each query's hits turned into results in one pass."""
    return _indexed_search_class()(encoder, index_backend=index)


@cache
def _indexed_search_class() -> type:
    """The wrapper class, built on first use so that importing this module leaves mteb be."""
    from mteb.models import SearchEncoderWrapper

    class IndexedSearch(SearchEncoderWrapper):
        """mteb's wrapper, with an exact index's hits turned into results without Python heaps.

        mteb 2.26.24 turns the index's hits into a heap per query, then copies each heap item
        into the results dict: two Python steps per query × top-k hit (3.4 M per stdlib cell
        at top-k 1000), 2 s of a 5 s score phase. Where every heap starts empty (the full-corpus
        search of an exact index), ``_sort_full_corpus_results`` builds the results dict itself
        (``ranked_results``), hands mteb empty heaps to copy, and ``search`` returns that dict.
        It also reads the corpus' lazy ``datasets`` id column once as a list (indexed per hit,
        it costs an Arrow slice each, ~0.2 ms).
        """

        _ranked: dict[str, dict[str, float]] | None = None

        def search(self, queries: Any, **kwargs: Any) -> dict[str, dict[str, float]]:
            """mteb's search; the results ``_sort_full_corpus_results`` built, where it did."""
            self._ranked = None
            results = super().search(queries, **kwargs)
            ranked, self._ranked = self._ranked, None
            return results if ranked is None else ranked

        def _sort_full_corpus_results(
            self, *, sub_corpus_ids: Any, **kwargs: Any
        ) -> dict[str, list[tuple[float, str]]]:
            ids = list(sub_corpus_ids)
            if not _fresh_heaps(kwargs):
                return super()._sort_full_corpus_results(sub_corpus_ids=ids, **kwargs)
            self._ranked = ranked_results(ids, **kwargs)
            return {qid: [] for qid in kwargs["result_heaps"]}

    return IndexedSearch


def _fresh_heaps(kwargs: dict[str, Any]) -> bool:
    """Whether every query's heap is still empty and gets at most top_k hits: then mteb's
    push-one-by-one loop keeps every hit the index returned.

    The exact index returns each query's global top k in one call, so this is the usual case.
    """
    heaps, top_k = kwargs["result_heaps"], kwargs["top_k"]
    ids_of = kwargs["query_idx_to_id"]
    rows = kwargs["cos_scores_top_k_idx"]
    return all(not heaps[ids_of[i]] and len(row) <= top_k for i, row in enumerate(rows))


def ranked_results(
    ids: list[str],
    *,
    query_idx_to_id: dict[int, str],
    cos_scores_top_k_idx: list[list[int]],
    cos_scores_top_k_values: list[list[float]],
    **_: Any,
) -> dict[str, dict[str, float]]:
    """mteb's results for an index's hits: per query, doc id → score, in the order mteb's
    heap loop would leave them had its heap been sorted by (score, doc id).

    The order is no result for the metrics (they sort by (score, doc id)), but numpy's std in
    the nAUC confidence reads the values in dict order, so it is kept the same as before.
    Indexes return hits best first: reversed, a row is already ascending, and only a row with
    an exact score tie (or out of order) needs the sort by (score, doc id).
    """
    results = {}
    rows = zip(cos_scores_top_k_idx, cos_scores_top_k_values, strict=True)
    for row, (hits, scores) in enumerate(rows):
        ascending, doc_ids = scores[::-1], list(map(ids.__getitem__, hits[::-1]))
        if not all(map(operator.lt, ascending, ascending[1:])):  # a tie, or out of order
            pairs = sorted(zip(ascending, doc_ids, strict=True))
            results[query_idx_to_id[row]] = {doc: score for score, doc in pairs}
        else:
            results[query_idx_to_id[row]] = dict(zip(doc_ids, ascending, strict=True))
    return results
