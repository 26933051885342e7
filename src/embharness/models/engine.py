"""The one encoding engine shared by all backends.

Sorts texts by token length (longest first) and cuts the sorted order into dynamically padded
batches: at most ``batch_size`` rows and, when ``max_batch_tokens`` is set, at most that many
padded tokens (the batch's longest text × its rows; a text longer than the budget is a batch of
its own). Runs under ``torch.inference_mode`` and restores input order.

No autocast: weights are loaded in the run's dtype, so autocast over them only adds casts (2 to
3 % slower on an H100 in issue 11's measurement, where bf16 and fp16 ran at the same speed).

GPU work overlaps host work: a batch's vectors stay on the device until the next batch has
been launched, so padding (or packing) and the host-to-device copy of batch k+1 run while batch
k computes; pooling needs no host sync (``pooling.last_token_pool``).

On CUDA out of memory it leaves the ``except`` block first, so the failed batch's tensors are
freed, empties the CUDA cache, halves the effective row cap (and token budget) and retries; the
smaller budget is kept for the rest of the engine's life (one cell).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from embharness.errors import HarnessError
from embharness.models.backend import Backend, Tokenized

log = logging.getLogger(__name__)

BatchSink = Callable[[np.ndarray, np.ndarray], None]
OOM_ERRORS: tuple[type[BaseException], ...] = (torch.cuda.OutOfMemoryError,)


def _collate(backend: Backend, features: list[dict[str, list[int]]]) -> dict[str, Any]:
    """The batch on the backend's device: the backend's own ``collate``, or tokenizer padding."""
    collate = getattr(backend, "collate", None)
    batch = (
        collate(features)
        if collate
        else backend.tokenizer.pad(features, padding=True, return_tensors="pt")
    )
    cuda = backend.device.type == "cuda"
    return {
        key: _to_device(value, backend.device, cuda) if isinstance(value, torch.Tensor) else value
        for key, value in batch.items()
    }


def _to_device(tensor: torch.Tensor, device: torch.device, cuda: bool) -> torch.Tensor:
    # Pinned host memory lets the copy run asynchronously with the GPU's current batch.
    return tensor.pin_memory().to(device, non_blocking=True) if cuda else tensor.to(device)


def batch_rows(sorted_lengths: Sequence[int], start: int, rows: int, tokens: int | None) -> int:
    """Rows of the batch that starts at ``start`` of the longest-first ``sorted_lengths``.

    At most ``rows`` and, with a token budget, at most ``tokens`` padded tokens: the first
    text is the batch's longest, so it sets the padded length. Always at least one row.
    """
    left = len(sorted_lengths) - start
    if tokens is None:
        return min(rows, left)
    longest = max(1, sorted_lengths[start])
    return max(1, min(rows, left, tokens // longest))


@dataclass
class EngineStats:
    """What one ``encode`` call did: texts cut at max length, out-of-memory retries, and the
    effective row cap and token budget it ended on (the configured ones unless an
    out-of-memory error lowered them; ``final_max_batch_tokens`` None: count-based batches)."""

    truncated: int = 0
    oom_retries: int = 0
    final_batch_size: int = 0
    final_max_batch_tokens: int | None = None


@dataclass
class Encoded:
    """Raw pooled float32 vectors in input order, and the stats of the call that made them."""

    vectors: np.ndarray
    stats: EngineStats


class _Outputs:
    """Vectors in input order. Each batch is copied to the host one batch late: once the next
    batch has been launched, so the copy's wait overlaps GPU work."""

    def __init__(self, out: np.ndarray, sink: BatchSink | None, bar: tqdm) -> None:
        self.out, self.sink, self.bar = out, sink, bar
        self.pending: tuple[np.ndarray, torch.Tensor] | None = None

    def add(self, indices: np.ndarray, vectors: torch.Tensor) -> None:
        """Keep this batch on the device; copy out the one before."""
        self.flush()
        self.pending = (indices, vectors)

    def flush(self) -> None:
        """Copy the pending batch to the host and hand it to the sink."""
        if self.pending is None:
            return
        indices, vectors = self.pending[0], self.pending[1].cpu().numpy()
        self.pending = None
        self.out[indices] = vectors
        if self.sink is not None:
            self.sink(indices, vectors)
        self.bar.update(len(indices))


class EncodingEngine:
    """Encodes texts through a backend in length-sorted, dynamically padded batches.

    ``batch_size`` (the row cap) and ``max_batch_tokens`` (the padded-token budget, None:
    count-based batches) are the configured settings and never change. An out-of-memory error
    lowers the *effective* ones (``effective_batch_size``, ``effective_max_batch_tokens``),
    which then hold for every later call of this engine (reported in ``EngineStats``).
    """

    def __init__(
        self, batch_size: int = 32, show_progress: bool = True, max_batch_tokens: int | None = None
    ) -> None:
        if batch_size < 1 or (max_batch_tokens is not None and max_batch_tokens < 1):
            raise HarnessError(
                f"batch_size {batch_size} / max_batch_tokens {max_batch_tokens} must be positive",
                "set positive integers (max_batch_tokens: null for count-based batches)",
            )
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.effective_batch_size = batch_size
        self.effective_max_batch_tokens = max_batch_tokens
        self.show_progress = show_progress
        self.progress: tqdm | None = None  # one shared bar (a cell's); else one per call

    def _bar(self, total: int, description: str) -> contextlib.AbstractContextManager:
        """The shared bar, grown by ``total``, or a new bar for this call."""
        if self.progress is None:
            bar: contextlib.AbstractContextManager = tqdm(
                total=total, desc=description, disable=not self.show_progress
            )
            return bar
        self.progress.total = (self.progress.total or 0) + total
        self.progress.refresh()
        return contextlib.nullcontext(self.progress)

    def _forward(self, backend: Backend, features: list, adapter: str | None) -> torch.Tensor:
        """The batch's float32 vectors, still on the device (launched, maybe not finished)."""
        with torch.inference_mode():
            vectors = backend.forward(_collate(backend, features), adapter)
        return vectors.float()

    def _try_forward(
        self, backend: Backend, features: list, adapter: str | None
    ) -> torch.Tensor | None:
        """The batch's vectors, or None on out of memory.

        No exception object is kept: once this returns, the traceback (and with it every
        tensor of the failed batch its frames held) is gone.
        """
        try:
            return self._forward(backend, features, adapter)
        except OOM_ERRORS:
            return None

    def _shrink(self, rows: int, padded_tokens: int, stats: EngineStats) -> None:
        """Halve the effective row cap and token budget below the batch that ran out."""
        if rows == 1:
            raise HarnessError(
                "CUDA out of memory on a single text",
                "lower --max-length or use a GPU with more memory",
            )
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        stats.oom_retries += 1
        self.effective_batch_size = max(1, min(self.effective_batch_size, rows) // 2)
        if self.effective_max_batch_tokens is not None:
            budget = min(self.effective_max_batch_tokens, padded_tokens)
            self.effective_max_batch_tokens = max(1, budget // 2)
        log.warning(
            "CUDA out of memory: batch size halved to %d (token budget %s)",
            self.effective_batch_size,
            self.effective_max_batch_tokens,
        )

    def encode(
        self,
        backend: Backend,
        texts: list[str],
        adapter: str | None = None,
        max_length: int | None = None,
        sink: BatchSink | None = None,
        description: str = "encode",
    ) -> Encoded:
        """Encode ``texts`` into raw pooled float32 vectors, rows in input order.

        ``sink(indices, vectors)`` is called after each batch, so callers can persist progress.
        """
        tokenized: Tokenized = backend.tokenize(texts, max_length or backend.info.max_length)
        stats = EngineStats(truncated=tokenized.truncated)
        lengths = np.asarray(tokenized.lengths(), dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order].tolist()
        out = np.empty((len(texts), backend.info.embed_dim), dtype=np.float32)
        with self._bar(len(texts), description) as bar:
            outputs = _Outputs(out, sink, bar)
            start = 0
            while start < len(order):
                rows = batch_rows(
                    sorted_lengths,
                    start,
                    self.effective_batch_size,
                    self.effective_max_batch_tokens,
                )
                indices = order[start : start + rows]
                result = self._try_forward(
                    backend, [tokenized.features[i] for i in indices], adapter
                )
                if result is None:
                    self._shrink(rows, rows * sorted_lengths[start], stats)
                    continue
                outputs.add(indices, result)
                start += rows
            outputs.flush()
        stats.final_batch_size = self.effective_batch_size
        stats.final_max_batch_tokens = self.effective_max_batch_tokens
        return Encoded(out, stats)
