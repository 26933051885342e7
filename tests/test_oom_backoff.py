"""The out-of-memory back-off frees the failed batch before retrying and keeps the smaller
budget for the rest of the cell; the configured settings never change."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch
from backend_probes import ObservedBackend

from embharness.models.backend import Backend
from embharness.models.engine import EncodingEngine
from embharness.models.loading import LoadSettings, load_backend
from embharness.specs.registry import get_spec

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = [f"text number {i} " + "about embeddings " * (i % 7) for i in range(20)]
BIG = 50 * 2**20 // 4  # float32 elements of a 50 MB tensor


class LeakProbeBackend(ObservedBackend):
    """A stand-in for a GPU that runs out of memory, wrapping the real MiniLM backend.

    No GPU can be had here. Above ``limit`` rows it allocates a 50 MB tensor (the failed
    batch's activations), keeps only a ``weakref`` to it and raises
    ``torch.cuda.OutOfMemoryError``; at every later forward it notes whether that tensor is
    already freed, then runs the real model.
    """

    def __init__(self, inner: Backend, limit: int) -> None:
        super().__init__(inner)
        self.limit = limit
        self.rows: list[int] = []
        self.failed: list[weakref.ref[torch.Tensor]] = []
        self.freed_before_next: list[bool] = []

    def forward(self, batch: dict[str, torch.Tensor], adapter: str | None) -> torch.Tensor:
        """OOM above the limit (after a 50 MB allocation), else the real forward."""
        if self.failed and len(self.freed_before_next) < len(self.failed):
            self.freed_before_next.append(self.failed[-1]() is None)
        rows = batch["input_ids"].shape[0]
        self.rows.append(rows)
        if rows > self.limit:
            activations = torch.ones(BIG, dtype=torch.float32)
            self.failed.append(weakref.ref(activations))
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner.forward(batch, adapter)


@pytest.fixture(scope="module")
def minilm() -> Backend:
    """The packaged MiniLM through the harness's sentence-transformers backend, on CPU."""
    return load_backend(get_spec(MINILM), LoadSettings(device="cpu"))


def test_failed_batch_is_freed_before_the_retry(minilm: Backend) -> None:
    """At the retry's forward the failed batch's 50 MB tensor is already gone; vectors equal a
    run without OOM; the effective row cap is halved and kept, the configured one unchanged."""
    want = EncodingEngine(8, show_progress=False).encode(minilm, TEXTS).vectors
    probe = LeakProbeBackend(minilm, limit=4)
    engine = EncodingEngine(8, show_progress=False)
    got = engine.encode(probe, TEXTS)
    assert probe.rows[:2] == [8, 4] and len(probe.failed) == 1
    assert probe.freed_before_next == [True]  # dead weakref: freed before the retry ran
    np.testing.assert_allclose(got.vectors, want, atol=1e-5)
    assert (got.stats.oom_retries, got.stats.final_batch_size) == (1, 4)
    assert got.stats.final_max_batch_tokens is None  # count-based stays count-based
    assert engine.batch_size == 8 and engine.max_batch_tokens is None
    assert engine.effective_batch_size == 4
    assert max(probe.rows[1:]) == 4  # the smaller budget held for the rest of the call


def test_token_budget_is_halved_and_kept_for_later_calls(minilm: Backend) -> None:
    """With a token budget both the row cap and the budget halve; a later call of the same
    engine (the same cell) starts from the halved budget and needs no retry."""
    longest = max(minilm.tokenize(TEXTS, minilm.info.max_length).lengths())
    budget = 8 * longest  # the first batch is exactly 8 rows and exactly the budget
    want = EncodingEngine(8, show_progress=False).encode(minilm, TEXTS).vectors
    probe = LeakProbeBackend(minilm, limit=4)
    engine = EncodingEngine(8, show_progress=False, max_batch_tokens=budget)
    first = engine.encode(probe, TEXTS)
    assert probe.freed_before_next == [True]
    np.testing.assert_allclose(first.vectors, want, atol=1e-5)
    assert (first.stats.final_batch_size, first.stats.final_max_batch_tokens) == (4, budget // 2)
    assert (engine.batch_size, engine.max_batch_tokens) == (8, budget)  # configured: unchanged
    probe.rows.clear()
    second = engine.encode(probe, TEXTS)
    assert second.stats.oom_retries == 0 and max(probe.rows) == 4
    assert (second.stats.final_batch_size, second.stats.final_max_batch_tokens) == (4, budget // 2)
    np.testing.assert_allclose(second.vectors, want, atol=1e-5)
