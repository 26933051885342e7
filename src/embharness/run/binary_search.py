"""A search index for mteb that ranks quantised vectors: float16, int8, Hamming, rescoring.

It implements mteb's ``IndexEncoderSearchProtocol`` and goes to ``SearchEncoderWrapper(
index_backend=...)``. The encoder still hands over float32 vectors (read from the embedding
cache and projected to the dim); the index quantises them:

- ``float16`` / ``int8``: both sides quantised (int8 with ranges from the corpus, computed once
  in ``add_documents``), scored with the model's own similarity on the dequantised values.
- ``ubinary``: packed bits in a faiss ``IndexBinaryFlat``, ranked by Hamming distance
  (score = -distance).
- ``binary-rescore``: the Hamming top ``rescore_top_k`` candidates, rescored by the float32 query
  against the ±1 doc vectors (sentence-transformers' rescoring), best ``top_k`` kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from embharness.encoding.quantize import calibration_ranges, quantize, unpack_signs
from embharness.errors import HarnessError


def _numpy(array: Any) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float32)


class QuantizedSearchIndex:
    """mteb index backend over quantised corpus vectors (see the module docstring)."""

    def __init__(self, precision: str, rescore_top_k: int = 40) -> None:
        self.precision = precision
        self.rescore_top_k = rescore_top_k
        self.ranges: np.ndarray | None = None
        self.calibrations = 0  # how often ranges were computed: once per corpus
        self.clear()

    def clear(self) -> None:
        """Forget the corpus (mteb calls this after each search)."""
        self.idxs: list[str] = []
        self.docs: np.ndarray | None = None
        self.packed: np.ndarray | None = None
        self.binary: Any = None
        self.dim = 0

    def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
        """Quantise and store the corpus (mteb hands over the whole corpus at once)."""
        if self.idxs:
            raise HarnessError(
                "the quantised index got a second corpus batch", "index the corpus in one call"
            )
        corpus = _numpy(embeddings)
        self.idxs = list(idxs)
        self.dim = corpus.shape[1]
        if self.precision in ("float16", "int8", "float32"):
            if self.precision == "int8":
                self.ranges = calibration_ranges(corpus)
                self.calibrations += 1
            self.docs = self._dequantised(corpus)
            return
        import faiss

        self.packed = quantize(corpus, "ubinary")
        self.binary = faiss.IndexBinaryFlat(self.packed.shape[1] * 8)
        self.binary.add(self.packed)

    def _dequantised(self, vectors: np.ndarray) -> np.ndarray:
        return quantize(vectors, self.precision, self.ranges).astype(np.float32)

    def search(
        self,
        embeddings: Any,
        top_k: int,
        similarity_fn: Callable[[Any, Any], Any],
        top_ranked: Any = None,
        query_idx_to_id: dict[int, str] | None = None,
    ) -> tuple[list[list[float]], list[list[int]]]:
        """Each query's best ``top_k`` (scores, corpus indices) at this precision."""
        if top_ranked is not None:
            raise HarnessError(
                f"precision {self.precision} applies to full-corpus retrieval only",
                "drop reranking tasks from a sweep with precisions",
            )
        queries = _numpy(embeddings)
        k = min(top_k, len(self.idxs))
        if self.docs is not None:
            return self._dense(queries, k, similarity_fn)
        if self.precision == "ubinary":
            distances, ids = self.binary.search(quantize(queries, "ubinary"), k)
            return (-distances.astype(np.float64)).tolist(), ids.tolist()
        return self._rescored(queries, k)

    def _dense(
        self, queries: np.ndarray, k: int, similarity_fn: Callable[[Any, Any], Any]
    ) -> tuple[list[list[float]], list[list[int]]]:
        import torch

        scores = torch.as_tensor(similarity_fn(self._dequantised(queries), self.docs))
        values, ids = torch.topk(scores, k, dim=1, largest=True)
        return values.tolist(), ids.tolist()

    def _rescored(self, queries: np.ndarray, k: int) -> tuple[list[list[float]], list[list[int]]]:
        assert self.packed is not None
        wide = min(max(self.rescore_top_k, k), len(self.idxs))
        _, candidates = self.binary.search(quantize(queries, "ubinary"), wide)
        signs = unpack_signs(self.packed[candidates], self.dim)  # (queries, wide, dim)
        scores = np.einsum("qd,qkd->qk", queries, signs)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(scores, order, axis=1)
        ids = np.take_along_axis(candidates, order, axis=1)
        return best.astype(np.float64).tolist(), ids.tolist()
