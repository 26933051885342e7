"""Exact search with torch top-k, behind mteb's index-backend protocol (``search: torch``).

mteb's own full-corpus search scores the corpus in chunks with the model's ``similarity`` and
merges each chunk's top-k into a Python heap per query: one ``heappush`` per query × hit ×
chunk (31.6 M pushes in a 5-dim sweep of the offline suite). ``TorchExactIndex`` scores the
whole corpus one block of queries at a time and keeps ``torch.topk`` of each row. For cosine
and dot-product models (as mteb's ``FaissSearchIndex`` reads them from the model's meta) the
score is one matmul, over vectors L2-normalised once for cosine; any other similarity goes
through the function mteb hands the index (``model.similarity``). It is exact: scores equal
mteb's up to float rounding, and ``run.search`` turns each row into a sorted heap without
Python pushes.

The corpus stays on the encoder's device, so on a GPU the top-k of a COIR-CodeSearchNet cell
(52,561 × 1,003,765) runs there too; a block holds at most ``block_bytes`` of scores. A block
that runs out of device memory (score workers share the GPU with the runner's encode) is
scored again at half the rows, and the smaller blocks are kept for the rest of the search.

Ties: ``torch.topk`` keeps an arbitrary doc of those tied exactly at the k-th score (see
``run.search`` for why only that boundary can differ from mteb's path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from embharness.errors import HarnessError

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

# Scores held at once: 1 GiB of float32 on a CPU, 4 GiB on a GPU.
CPU_BLOCK_BYTES = 2**30
GPU_BLOCK_BYTES = 4 * 2**30
MATMUL_SIMILARITIES = ("cosine", "dot")


class TorchExactIndex:
    """An exact index for mteb's ``SearchEncoderWrapper(index_backend=...)``."""

    def __init__(
        self, device: str = "cpu", similarity: str | None = None, block_bytes: int | None = None
    ) -> None:
        """``similarity``: the model's similarity name (``cosine``, ``dot``, …; None: unknown,
        so every block goes through the function ``search`` is given)."""
        self.device = device
        self.similarity = similarity
        on_gpu = device.startswith("cuda")
        self.block_bytes = block_bytes or (GPU_BLOCK_BYTES if on_gpu else CPU_BLOCK_BYTES)
        self.idxs: list[str] = []
        self._parts: list[torch.Tensor] = []
        self.oom_retries = 0  # blocks scored again at half the rows after running out of memory

    def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
        """Keep ``embeddings`` (float32, on the index's device) for documents ``idxs``."""
        self._parts.append(self._prepared(embeddings))
        self.idxs.extend(idxs)

    def search(
        self,
        embeddings: Any,
        top_k: int,
        similarity_fn: Callable[[Any, Any], Any],
        top_ranked: dict[str, list[str]] | None = None,
        query_idx_to_id: dict[int, str] | None = None,
    ) -> tuple[list[list[float]], list[list[int]]]:
        """Per query, the ``top_k`` best (score, corpus index) pairs, best first."""
        import torch

        if top_ranked is not None:
            return self._rerank(embeddings, top_k, similarity_fn, top_ranked, query_idx_to_id)
        corpus = self._corpus()
        queries = self._prepared(embeddings)
        score = self._scorer(similarity_fn)
        k = min(top_k, corpus.shape[0])
        rows = max(1, self.block_bytes // (4 * max(1, corpus.shape[0])))
        values, indices = [], []
        start = 0
        with torch.inference_mode():
            while start < queries.shape[0]:
                top = _block_top(queries[start : start + rows], corpus, score, k)
                if top is None:  # out of memory: this block and the rest at half the rows
                    rows = _halved(rows)
                    self.oom_retries += 1
                    continue
                values.append(top[0])
                indices.append(top[1])
                start += len(top[0])
        if not values:
            return [], []
        return torch.cat(values).tolist(), torch.cat(indices).tolist()

    def clear(self) -> None:
        """Forget every document."""
        self.idxs, self._parts = [], []

    def _corpus(self) -> torch.Tensor:
        import torch

        if not self._parts:
            raise ValueError("No documents added: call add_documents() first.")
        if len(self._parts) > 1:
            self._parts = [torch.cat(self._parts)]
        return self._parts[0]

    def _prepared(self, embeddings: Any) -> torch.Tensor:
        """float32 on the index's device; L2-normalised where the similarity is cosine."""
        import torch

        tensor = embeddings if isinstance(embeddings, torch.Tensor) else None
        if tensor is None:
            tensor = torch.from_numpy(np.asarray(embeddings))
        tensor = tensor.to(device=self.device, dtype=torch.float32)
        if self.similarity == "cosine":
            tensor = torch.nn.functional.normalize(tensor, dim=-1)
        return tensor

    def _scorer(self, similarity_fn: Callable[[Any, Any], Any]) -> Callable[..., torch.Tensor]:
        """Block scores: one matmul where the similarity is cosine or dot, else the model's."""
        import torch

        if self.similarity in MATMUL_SIMILARITIES:
            return lambda queries, corpus: queries @ corpus.T
        return lambda queries, corpus: torch.as_tensor(similarity_fn(queries, corpus)).float()

    def _rerank(
        self,
        embeddings: Any,
        top_k: int,
        similarity_fn: Callable[[Any, Any], Any],
        top_ranked: dict[str, list[str]],
        query_idx_to_id: dict[int, str] | None,
    ) -> tuple[list[list[float]], list[list[int]]]:
        """Each query's given shortlist, scored and cut to ``top_k`` (mteb's reranking mode)."""
        import torch

        if query_idx_to_id is None:
            raise ValueError("query_idx_to_id must be provided when reranking.")
        position = {doc: i for i, doc in enumerate(self.idxs)}
        corpus, queries = self._corpus(), self._prepared(embeddings)
        score = self._scorer(similarity_fn)
        values: list[list[float]] = []
        indices: list[list[int]] = []
        for row, query in enumerate(queries):
            shortlist = [position[doc] for doc in top_ranked.get(query_idx_to_id[row], [])]
            if not shortlist:
                values.append([])
                indices.append([])
                continue
            chosen = torch.tensor(shortlist, device=corpus.device)
            scores = score(query[None], corpus[chosen])[0]
            top = torch.topk(scores, min(top_k, len(shortlist)), sorted=True)
            values.append(top.values.tolist())
            indices.append(chosen[top.indices].tolist())
        return values, indices


def _block_top(
    block: torch.Tensor, corpus: torch.Tensor, score: Callable[..., torch.Tensor], k: int
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The block's top-k (scores, corpus rows) on the host; None where the device ran out of
    memory. The caller retries outside this frame: once it has returned, nothing refers to
    the failed block's scores any more (the traceback held them), so they are freed."""
    from embharness.models.engine import OOM_ERRORS

    try:
        top = torch_topk(score(block, corpus), k)
    except OOM_ERRORS:
        return None
    return top[0].cpu(), top[1].cpu()


def torch_topk(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's ``k`` best scores and their columns, best first."""
    import torch

    top = torch.topk(scores, k, dim=1, largest=True, sorted=True)
    return top.values, top.indices


def _halved(rows: int) -> int:
    """Half of ``rows`` after an out-of-memory error, the device's cache emptied first; a
    single query that does not fit is the user's to fix."""
    import torch

    if rows == 1:
        raise HarnessError(
            "out of device memory scoring one query against the whole corpus",
            "free device memory (fewer --score-workers, a smaller --max-batch-tokens) or use "
            "search: faiss, which searches on the CPU",
        )
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return rows // 2
