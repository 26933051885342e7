"""The shared encoding engine on the packaged MiniLM: order, OOM back-off, sentence-transformers
equality; pooling in float32 for half-precision states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from backend_probes import ObservedBackend
from sentence_transformers import SentenceTransformer

from embharness.errors import HarnessError
from embharness.models.backend import Backend
from embharness.models.engine import EncodingEngine
from embharness.models.loading import LoadSettings, load_backend
from embharness.models.pooling import POOLINGS, mean_pool
from embharness.models.st_backend import STBackend
from embharness.specs.registry import get_spec

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = [
    "a",
    "The quick brown fox jumps over the lazy dog near the riverbank at dawn.",
    "  padded with spaces  ",
    "def quicksort(xs):\n    return xs if len(xs) < 2 else quicksort([x for x in xs[1:] "
    "if x < xs[0]]) + [xs[0]] + quicksort([x for x in xs[1:] if x >= xs[0]])",
    "Short one.",
    "Ünïcödé and emoji 🚀 mixed with CJK 漢字 text",
    "medium length sentence about embeddings and retrieval",
    " ".join(["long"] * 400),  # over MiniLM's 256-token limit
]


@pytest.fixture(scope="module")
def minilm() -> Backend:
    """The packaged MiniLM through the harness's sentence-transformers backend, on CPU."""
    return load_backend(get_spec(MINILM), LoadSettings(device="cpu"))


class OOMAboveBackend(ObservedBackend):
    """A stand-in for a GPU that runs out of memory: raises CUDA OOM above ``limit`` rows.

    No GPU can be had here; this wraps the real MiniLM backend and raises
    ``torch.cuda.OutOfMemoryError`` for batches larger than ``limit``, otherwise runs it.
    """

    def __init__(self, inner: Backend, limit: int) -> None:
        super().__init__(inner)
        self.limit = limit
        self.seen: list[int] = []

    def forward(self, batch: dict[str, torch.Tensor], adapter: str | None) -> torch.Tensor:
        """OOM above the limit, else the real forward."""
        rows = batch["input_ids"].shape[0]
        self.seen.append(rows)
        if rows > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.inner.forward(batch, adapter)


def test_restores_input_order(minilm: Backend) -> None:
    """Length-sorted batches come back in input order: each row = that text encoded alone."""
    engine = EncodingEngine(batch_size=3, show_progress=False)
    lengths = minilm.tokenize(TEXTS, 256).lengths()
    assert lengths != sorted(lengths, reverse=True)  # the engine must reorder
    batched = engine.encode(minilm, TEXTS).vectors
    for i, text in enumerate(TEXTS):
        alone = engine.encode(minilm, [text]).vectors[0]
        np.testing.assert_allclose(batched[i], alone, atol=1e-5)


def test_oom_halves_batch_and_keeps_results(minilm: Backend) -> None:
    """On CUDA OOM the batch is halved until it fits; vectors equal a run without OOM."""
    want = EncodingEngine(batch_size=8, show_progress=False).encode(minilm, TEXTS).vectors
    flaky = OOMAboveBackend(minilm, limit=3)
    engine = EncodingEngine(batch_size=8, show_progress=False)
    sinks: list[np.ndarray] = []
    got = engine.encode(flaky, TEXTS, sink=lambda idx, vec: sinks.append(idx))
    np.testing.assert_allclose(got.vectors, want, atol=1e-5)
    assert engine.batch_size == 8  # the configured setting is never changed
    assert got.stats.final_batch_size == 2 and got.stats.oom_retries >= 2
    assert flaky.seen[:3] == [8, 4, 2]
    assert sorted(np.concatenate(sinks).tolist()) == list(range(len(TEXTS)))


def test_oom_on_single_text_is_a_clear_error(minilm: Backend) -> None:
    """When even one text does not fit, the user gets a HarnessError naming the fix."""
    engine = EncodingEngine(batch_size=4, show_progress=False)
    with pytest.raises(HarnessError, match="max-length"):
        engine.encode(OOMAboveBackend(minilm, limit=0), TEXTS[:2])


def test_st_backend_equals_sentence_transformers(minilm: Backend, minilm_path: Path) -> None:
    """Harness engine + ST backend = ``SentenceTransformer.encode`` of the same folder (1e-5)."""
    assert isinstance(minilm, STBackend)
    reference = SentenceTransformer(str(minilm_path), device="cpu")
    want = reference.encode(TEXTS, batch_size=4, convert_to_numpy=True)
    engine = EncodingEngine(batch_size=4, show_progress=False)
    encoded = engine.encode(minilm, TEXTS)
    got = encoded.vectors
    assert got.shape == want.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert encoded.stats.truncated == 1  # the 400-word text, cut at 256 tokens like ST does


def test_fp16_mean_pool_sums_in_float32() -> None:
    """Large fp16 states mean-pool without inf, equal to the float32 computation."""
    torch.manual_seed(0)
    hidden = (torch.rand(3, 16, 8) * 1000 + 59000).to(torch.float16)  # near fp16's max 65504
    mask = torch.ones(3, 16, dtype=torch.long)
    mask[1, 10:] = 0
    assert torch.isinf((hidden * mask.unsqueeze(-1).half()).sum(dim=1)).any()  # the old way
    pooled = mean_pool(hidden, mask)
    assert pooled.dtype == torch.float32 and torch.isfinite(pooled).all()
    states, weights = hidden.float(), mask.unsqueeze(-1).float()
    want = (states * weights).sum(dim=1) / weights.sum(dim=1)
    torch.testing.assert_close(pooled, want, rtol=1e-6, atol=0)
    for pool in POOLINGS.values():
        assert pool(hidden, mask).dtype == torch.float32


def test_tiny_qwen_float16_matches_float32(tiny_qwen_dir: Path) -> None:
    """End to end on CPU: the tiny Qwen2 in float16 gives the float32 vectors (cosine ≥ 0.999)."""
    spec = get_spec("jinaai/jina-code-embeddings-0.5b", local_path=str(tiny_qwen_dir))
    engine = EncodingEngine(batch_size=4, show_progress=False)
    backends = {
        dtype: load_backend(spec, LoadSettings(device="cpu", dtype=dtype))
        for dtype in ("float16", "float32")
    }
    assert backends["float16"].dtype == torch.float16
    half, full = (engine.encode(backends[d], TEXTS).vectors for d in ("float16", "float32"))
    assert half.dtype == np.float32 and np.isfinite(half).all()
    cosine = (half * full).sum(1) / (np.linalg.norm(half, axis=1) * np.linalg.norm(full, axis=1))
    assert cosine.min() >= 0.999, cosine
