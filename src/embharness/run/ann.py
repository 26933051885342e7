"""Approximate search: FAISS HNSW and IVF-PQ indexes behind mteb's index-backend protocol.

Both subclass mteb's ``FaissSearchIndex`` (its normalisation for cosine models, its metric
choice) and replace only the index they build and how it is searched. Approximate search
changes which documents come back and, for IVF-PQ, their scores (PQ codes give approximate
inner products), so an ANN backend and its parameters name an experiment folder
(``search_label``), unlike exact ``faiss``.

usearch is not offered: it is another HNSW graph (the same algorithm as faiss' ``IndexHNSWFlat``),
so it would add a dependency without adding an index kind to measure.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from embharness.errors import HarnessError

if TYPE_CHECKING:
    from collections.abc import Callable

# Parameters of each ANN backend and their defaults (all positive integers).
ANN_PARAMS: dict[str, dict[str, int]] = {
    "faiss-hnsw": {"M": 32, "ef_construction": 80, "ef_search": 128},
    "faiss-ivfpq": {"nlist": 0, "m": 32, "nbits": 8, "nprobe": 16},  # nlist 0: auto
}
SHORT = {"ef_construction": "efc", "ef_search": "efs"}
TRAIN_SEED = 0


def check_search_params(search: str, params: Any) -> dict[str, int] | None:
    """The full parameter set of ANN backend ``search`` (defaults filled), None for exact
    backends; a one-line ``HarnessError`` for an unknown or non-positive parameter."""
    if search not in ANN_PARAMS:
        if params:
            raise HarnessError(
                f"search_params apply to faiss-hnsw and faiss-ivfpq only, not search {search!r}",
                "drop search_params or set search: faiss-hnsw / faiss-ivfpq",
            )
        return None
    defaults = ANN_PARAMS[search]
    params = dict(params or {})
    if not isinstance(params, dict) or set(params) - set(defaults):
        raise HarnessError(
            f"unknown search_params {sorted(set(params) - set(defaults))} for {search}",
            f"allowed: {', '.join(defaults)}",
        )
    for key, value in params.items():
        least = 0 if key == "nlist" else 1
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise HarnessError(
                f"search_params.{key} must be an integer >= {least}, got {value!r}",
                f"e.g. search_params: {{{key}: {defaults[key] or 1024}}}",
            )
    if params.get("nbits", 8) > 16:
        raise HarnessError("search_params.nbits must be <= 16", "e.g. nbits: 8")
    return defaults | params


def search_label(search: str, params: dict[str, int] | None, task: str) -> str | None:
    """The experiment label of an ANN setting (``faiss-hnsw-M32-efc80-efs128``) for a cell of
    task ``task``; None when the search is exact, or when the task's ranking does not go
    through the index (``ranks_through_index``: there the setting changes nothing)."""
    if params is None or not ranks_through_index(task):
        return None
    parts = [f"{SHORT.get(k, k)}{'auto' if v == 0 else v}" for k, v in params.items()]
    return "-".join([search, *parts])


@cache
def ranks_through_index(task: str) -> bool:
    """Whether task ``task`` ranks its corpus through the ``search`` index: an mteb retrieval
    task of a type in ``run.search.INDEXED_TYPES`` (the rule ``search_model`` applies)."""
    from mteb.abstasks import AbsTaskRetrieval

    from embharness.run.search import INDEXED_TYPES
    from embharness.tasks.registry import get_task

    found = get_task(task)
    return isinstance(found, AbsTaskRetrieval) and found.metadata.type in INDEXED_TYPES


def parse_search_label(label: str) -> tuple[str, dict[str, int]] | None:
    """(backend, parameters) of a ``search_label`` (``auto`` read as 0); None for another text."""
    long = {short: key for key, short in SHORT.items()}
    for search, defaults in ANN_PARAMS.items():
        if not label.startswith(search + "-"):
            continue
        params: dict[str, int] = {}
        for part in label[len(search) + 1 :].split("-"):
            key = part.rstrip("0123456789").removesuffix("auto")
            value = part[len(key) :]
            key = long.get(key, key)
            if key not in defaults or not (value.isdigit() or value == "auto"):
                return None
            params[key] = 0 if value == "auto" else int(value)
        return search, params
    return None


def params_text(params: dict[str, int]) -> str:
    """``M=32 efc=80 efs=128`` (``nlist=auto`` for 0): a parameter setting in a table."""
    return " ".join(f"{SHORT.get(k, k)}={'auto' if v == 0 else v}" for k, v in params.items())


def ann_index(search: str, params: dict[str, int], model: Any) -> Any:
    """The mteb index backend for ANN setting ``search`` over ``model``'s similarity."""
    kinds = {"faiss-hnsw": _hnsw_class(), "faiss-ivfpq": _ivfpq_class()}
    return kinds[search](model, **params)


def auto_nlist(n: int) -> int:
    """IVF lists for ``n`` documents: about sqrt(n), with >= 39 training points per list."""
    return max(1, min(round(math.sqrt(n)), n // 39))


def _metric(index_type: type) -> int:
    import faiss

    return faiss.METRIC_L2 if index_type is faiss.IndexFlatL2 else faiss.METRIC_INNER_PRODUCT


def _prepared(base: Any, embeddings: Any) -> np.ndarray:
    """float32 rows, L2-normalised where the model scores by cosine (as mteb's index does)."""
    import faiss
    import torch

    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().cpu().numpy()
    rows = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
    if base._normalize:
        rows = rows.copy()
        faiss.normalize_L2(rows)
    return rows


def _search(base: Any, embeddings: Any, top_k: int) -> tuple[list[list[float]], list[list[int]]]:
    """Top-k (scores, row ids) per query; slots an IVF search left empty (id -1) are dropped."""
    import faiss

    if base.index is None:
        raise ValueError("No index built. Call add_documents() first.")
    scores, ids = base.index.search(_prepared(base, embeddings), min(top_k, base.index.ntotal))
    if base.index.metric_type == faiss.METRIC_L2:
        scores = -np.sqrt(np.maximum(scores, 0))
    keep = ids >= 0
    return (
        [row[k].tolist() for row, k in zip(scores, keep, strict=True)],
        [row[k].tolist() for row, k in zip(ids, keep, strict=True)],
    )


@cache
def _ann_base() -> type:
    """mteb's ``FaissSearchIndex`` with a full-corpus search whose index knobs ``_tune`` sets."""
    from mteb.models.search_encoder_index import FaissSearchIndex

    class AnnSearchIndex(FaissSearchIndex):
        def _tune(self, top_k: int) -> None:
            raise NotImplementedError

        def search(
            self,
            embeddings: Any,
            top_k: int,
            similarity_fn: Callable[..., Any] | None = None,
            top_ranked: Any = None,
            query_idx_to_id: Any = None,
        ) -> tuple[list[list[float]], list[list[int]]]:
            """Top-k over the whole corpus (no per-query shortlists: Retrieval tasks only)."""
            if top_ranked is not None:
                raise ValueError("ANN indexes rank full corpora only (Retrieval tasks)")
            self._tune(top_k)
            return _search(self, embeddings, top_k)

    return AnnSearchIndex


@cache
def _hnsw_class() -> type:
    class HnswSearchIndex(_ann_base()):  # type: ignore[misc]
        """faiss ``IndexHNSWFlat`` (M links per node, efConstruction, efSearch)."""

        def __init__(self, model: Any, M: int, ef_construction: int, ef_search: int) -> None:
            super().__init__(model)
            self.params = {"M": M, "ef_construction": ef_construction, "ef_search": ef_search}

        def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
            """Build the graph over the corpus (one call per corpus, as mteb makes it)."""
            import faiss

            rows = _prepared(self, embeddings)
            self.index = faiss.IndexHNSWFlat(
                rows.shape[1], self.params["M"], _metric(self.index_type)
            )
            self.index.hnsw.efConstruction = self.params["ef_construction"]
            self.index.add(rows)
            self.idxs = list(idxs)

        def _tune(self, top_k: int) -> None:
            """efSearch = max(ef_search, top_k) (faiss needs ef >= k)."""
            index: Any = self.index
            index.hnsw.efSearch = max(self.params["ef_search"], top_k)

    return HnswSearchIndex


@cache
def _ivfpq_class() -> type:
    class IvfPqSearchIndex(_ann_base()):  # type: ignore[misc]
        """faiss ``IndexIVFPQ``: nlist coarse lists (0: ``auto_nlist``), m sub-quantizers of
        nbits bits, nprobe lists visited per query; trained on a seeded sample of the corpus."""

        def __init__(self, model: Any, nlist: int, m: int, nbits: int, nprobe: int) -> None:
            super().__init__(model)
            self.params = {"nlist": nlist, "m": m, "nbits": nbits, "nprobe": nprobe}

        def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
            """Train the coarse quantizer and PQ codebooks, then encode the corpus."""
            import faiss

            rows = _prepared(self, embeddings)
            n, dim = rows.shape
            m, nbits = self.params["m"], self.params["nbits"]
            _check_ivfpq(n, dim, m, nbits)
            nlist = min(self.params["nlist"] or auto_nlist(n), n)
            metric = _metric(self.index_type)
            ip = metric == faiss.METRIC_INNER_PRODUCT
            quantizer = faiss.IndexFlatIP(dim) if ip else faiss.IndexFlatL2(dim)
            self.index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, metric)
            self.index.train(train_sample(rows, nlist, nbits))
            self.index.add(rows)
            self.quantizer = quantizer  # faiss holds a raw pointer: keep it alive
            self.idxs = list(idxs)

        def _tune(self, top_k: int) -> None:
            """Visit nprobe lists per query; scores are PQ-approximate inner products."""
            index: Any = self.index
            index.nprobe = self.params["nprobe"]

    return IvfPqSearchIndex


def _check_ivfpq(n: int, dim: int, m: int, nbits: int) -> None:
    if dim % m:
        raise HarnessError(
            f"IVF-PQ m={m} does not divide the vector dim {dim}",
            "pick search_params.m dividing every dim of the sweep (e.g. m: 16 or 32)",
        )
    if n < 2**nbits:
        raise HarnessError(
            f"IVF-PQ nbits={nbits} needs >= {2**nbits} documents to train, the corpus has {n}",
            f"lower search_params.nbits (e.g. nbits: {max(1, int(math.log2(n)))}) "
            "or use search: faiss-hnsw",
        )


def train_sample(rows: np.ndarray, nlist: int, nbits: int) -> np.ndarray:
    """A seeded sample of at most max(40·nlist, 40·2^nbits) rows (all rows when fewer)."""
    size = max(40 * nlist, 40 * 2**nbits)
    if len(rows) <= size:
        return rows
    picked = np.random.default_rng(TRAIN_SEED).choice(len(rows), size, replace=False)
    sample: np.ndarray = rows[np.sort(picked)]
    return sample
