"""The one encoding engine shared by all backends.

Sorts texts by token length, pads each batch dynamically, runs under ``torch.inference_mode``
(with autocast on GPU), halves the batch on CUDA out-of-memory, and restores input order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from embharness.errors import HarnessError
from embharness.models.backend import Backend, Tokenized

log = logging.getLogger(__name__)

BatchSink = Callable[[np.ndarray, np.ndarray], None]
OOM_ERRORS: tuple[type[BaseException], ...] = (torch.cuda.OutOfMemoryError,)


def _autocast(backend: Backend) -> contextlib.AbstractContextManager:
    if backend.device.type == "cuda" and backend.dtype in (torch.float16, torch.bfloat16):
        return torch.autocast("cuda", dtype=backend.dtype)
    return contextlib.nullcontext()


def _pad(backend: Backend, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    batch = backend.tokenizer.pad(features, padding=True, return_tensors="pt")
    return {key: value.to(backend.device) for key, value in batch.items()}


@dataclass
class EngineStats:
    """What one ``encode`` call did: texts cut at max length, out-of-memory retries and the
    batch size it ended on (the configured one unless an out-of-memory error lowered it)."""

    truncated: int = 0
    oom_retries: int = 0
    final_batch_size: int = 0


@dataclass
class Encoded:
    """Raw pooled float32 vectors in input order, and the stats of the call that made them."""

    vectors: np.ndarray
    stats: EngineStats


class EncodingEngine:
    """Encodes texts through a backend in length-sorted, dynamically padded batches.

    ``batch_size`` is the configured setting and never changes; an out-of-memory error lowers
    the effective batch size of the call it happens in (reported in ``EngineStats``).
    """

    def __init__(self, batch_size: int = 32, show_progress: bool = True) -> None:
        self.batch_size = batch_size
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
        with torch.inference_mode(), _autocast(backend):
            vectors = backend.forward(_pad(backend, features), adapter)
        return vectors.float().cpu()

    def _forward_with_backoff(
        self, backend: Backend, features: list, adapter: str | None, stats: EngineStats
    ) -> torch.Tensor:
        try:
            return self._forward(backend, features, adapter)
        except OOM_ERRORS as exc:
            if len(features) == 1:
                raise HarnessError(
                    "CUDA out of memory on a single text",
                    "lower --max-length or use a GPU with more memory",
                ) from exc
            torch.cuda.empty_cache()
            stats.oom_retries += 1
            stats.final_batch_size = max(1, len(features) // 2)
            log.warning("CUDA out of memory: batch size halved to %d", stats.final_batch_size)
            half = len(features) // 2
            return torch.cat(
                [
                    self._forward_with_backoff(backend, features[:half], adapter, stats),
                    self._forward_with_backoff(backend, features[half:], adapter, stats),
                ]
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
        stats = EngineStats(truncated=tokenized.truncated, final_batch_size=self.batch_size)
        order = np.argsort(-np.asarray(tokenized.lengths()), kind="stable")
        out = np.empty((len(texts), backend.info.embed_dim), dtype=np.float32)
        with self._bar(len(texts), description) as bar:
            start = 0
            while start < len(order):
                indices = order[start : start + stats.final_batch_size]
                features = [tokenized.features[i] for i in indices]
                vectors = self._forward_with_backoff(backend, features, adapter, stats).numpy()
                out[indices] = vectors
                if sink is not None:
                    sink(indices, vectors)
                start += len(indices)
                bar.update(len(indices))
        return Encoded(out, stats)
