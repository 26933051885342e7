"""First stages and rerankers of ``embharness rerank`` that are not embedding specs.

``bm25`` is mteb's own BM25 (``mteb/baseline-bm25s``, the bm25s package behind mteb's
``SearchProtocol``; no weights, so it runs offline). The mteb baselines score pairs without
weights: the random cross-encoder is a lower bound, no-reranking keeps the first stage's order
(an identity reranker). Real runs name a sentence-transformers ``CrossEncoder`` from the hub:
the example below is in mteb's registry (revision pinned there).
"""

from __future__ import annotations

FIRST_STAGE_ALIASES: dict[str, str] = {"bm25": "mteb/baseline-bm25s"}
RERANKER_ALIASES: dict[str, str] = {
    "random": "mteb/baseline-random-cross-encoder",
    "no-rerank": "mteb/baseline-no-reranking",
}
# A cross-encoder from the hub for real runs (README example; needs the hub or its local copy).
EXAMPLE_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L6-v2"
BI_ENCODER_PREFIX = "bi:"  # --reranker bi:MODEL[@dim]: a harness embedding spec as reranker
