"""The embedding cache: key completeness, corruption recovery, concurrent writers."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embharness.encoding.bridge import HarnessEncoder, LazyBackend
from embharness.encoding.cache import EmbeddingCache, cache_summary, prune
from embharness.encoding.plans import EncodingPlan
from embharness.models.engine import EncodingEngine
from embharness.models.loading import load_backend
from embharness.run.cells import prepare_model
from embharness.run.sweep import ModelEntry

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = [f"def function_{i}(x):\n    return x + {i}" for i in range(12)] + ["same", "same"]
PLAN = EncodingPlan("query", None, "", None, "test")


@pytest.fixture(scope="module")
def minilm_backend() -> LazyBackend:
    """The packaged MiniLM, loaded once for this module."""
    model = prepare_model(ModelEntry(name=MINILM))
    return LazyBackend(model.info, lambda: load_backend(model.spec, model.load))


def make_encoder(backend: LazyBackend, cache_root: Path | None, max_length: int = 256):
    """A harness encoder over MiniLM at full dim."""
    model = prepare_model(ModelEntry(name=MINILM))
    cache = EmbeddingCache(cache_root) if cache_root else None
    return HarnessEncoder(
        model.spec,
        backend,
        model.spec.to_model_meta(),
        384,
        EncodingEngine(4, show_progress=False),
        cache,
        max_length,
    )


def test_second_call_is_served_from_cache_unchanged(minilm_backend, tmp_path: Path) -> None:
    first = make_encoder(minilm_backend, tmp_path)
    cold = first.full_vectors(TEXTS, PLAN)
    assert first.stats.misses == 13 and first.stats.hits == 0  # duplicates encoded once
    second = make_encoder(minilm_backend, tmp_path)
    warm = second.full_vectors(TEXTS, PLAN)
    assert second.stats.hits == 13 and second.stats.misses == 0
    assert warm.dtype == np.float32
    np.testing.assert_array_equal(warm, cold)  # float32 storage: bit-identical vectors
    uncached = make_encoder(minilm_backend, None).full_vectors(TEXTS, PLAN)
    np.testing.assert_allclose(warm, uncached, atol=1e-6)


@pytest.mark.parametrize(
    "changed",
    [
        replace(PLAN, prefix="Represent the query: "),
        replace(PLAN, side="document"),
        replace(PLAN, adapter="retrieval.query"),
    ],
    ids=["prompt", "side", "adapter"],
)
def test_any_key_input_change_misses(minilm_backend, tmp_path: Path, changed) -> None:
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    other = make_encoder(minilm_backend, tmp_path)
    other.full_vectors(TEXTS, changed)
    assert other.stats.hits == 0 and other.stats.misses == 13


def test_max_length_change_misses(minilm_backend, tmp_path: Path) -> None:
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    shorter = make_encoder(minilm_backend, tmp_path, max_length=8)
    shorter.full_vectors(TEXTS, PLAN)
    assert shorter.stats.hits == 0 and shorter.stats.misses == 13


def test_query_vectors_never_serve_documents(minilm_backend, tmp_path: Path) -> None:
    """mteb's cache wrapper once reused query vectors for documents; the side is in our key."""
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    assert len(cache_summary(tmp_path)) == 1
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, replace(PLAN, side="document"))
    sides = sorted(entry["key"]["side"] for entry in cache_summary(tmp_path))
    assert sides == ["document", "query"]


def test_corrupt_entry_is_detected_and_recomputed(minilm_backend, tmp_path: Path, caplog) -> None:
    reference = make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    segment = next(tmp_path.glob("*/*/*.npy"))
    data = bytearray(segment.read_bytes())
    data[-8:] = b"\xff" * 8  # flip the last float's bytes
    segment.write_bytes(bytes(data))
    again = make_encoder(minilm_backend, tmp_path)
    vectors = again.full_vectors(TEXTS, PLAN)
    assert again.stats.misses == 13
    assert "corrupt cache segment" in caplog.text
    np.testing.assert_allclose(vectors, reference, atol=1e-6)
    assert list(segment.parent.glob("corrupt/*.npy"))


def test_truncated_segment_is_detected(minilm_backend, tmp_path: Path) -> None:
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    segment = next(tmp_path.glob("*/*/*.npy"))
    segment.write_bytes(segment.read_bytes()[:100])
    again = make_encoder(minilm_backend, tmp_path)
    again.full_vectors(TEXTS, PLAN)
    assert again.stats.misses == 13


def _append_rows(root: str, start: int) -> None:
    cache = EmbeddingCache(Path(root))
    namespace = cache.namespace({"test": "concurrent"})
    for batch in range(20):
        digests = [f"{start}-{batch}-{i}".encode().ljust(16, b"_")[:16] for i in range(8)]
        namespace.append(digests, np.full((8, 4), start + batch, dtype=np.float32))


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_rows, args=(str(tmp_path), s)) for s in (0, 100)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    namespace = EmbeddingCache(tmp_path).namespace({"test": "concurrent"})
    namespace.refresh()
    assert namespace.corrupt == 0
    assert len(namespace._index) == 2 * 20 * 8
    assert cache_summary(tmp_path)[0]["rows"] == 320


def test_prune_frees_everything(minilm_backend, tmp_path: Path) -> None:
    make_encoder(minilm_backend, tmp_path).full_vectors(TEXTS, PLAN)
    assert prune(tmp_path) > 0
    assert cache_summary(tmp_path) == []
