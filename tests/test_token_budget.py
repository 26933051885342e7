"""Token-budget batches: the same vectors as count-based batches, and batches that keep the
budget, observed as the padded shapes the real backend's forward receives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from backend_probes import ObservedBackend

from embharness.errors import HarnessError
from embharness.models.backend import Backend
from embharness.models.device import DEVICE_BATCHING, pick_batching
from embharness.models.engine import EncodingEngine, batch_rows
from embharness.models.loading import LoadSettings, load_backend
from embharness.run.select import with_overrides
from embharness.run.sweep import parse_sweep
from embharness.specs.registry import get_spec

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
CODE_05B = "jinaai/jina-code-embeddings-0.5b"
WORDS = ["embedding", "models", "map", "text", "and", "code", "into", "vectors"]
# Forty texts of very different token lengths, in no particular order (one over 256 tokens).
TEXTS = [" ".join(WORDS[j % len(WORDS)] for j in range((i * 37) % 90 + 1)) for i in range(39)]
TEXTS.append(" ".join(["long"] * 400))


class ShapeRecorder(ObservedBackend):
    """Wraps a real backend and records the (rows, padded length) of every batch it runs."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.shapes: list[tuple[int, int]] = []

    def forward(self, batch: dict[str, torch.Tensor], adapter: str | None) -> torch.Tensor:
        """Record the padded shape, then run the real forward."""
        rows, padded = batch["input_ids"].shape
        self.shapes.append((int(rows), int(padded)))
        return self.inner.forward(batch, adapter)


@pytest.fixture(scope="module")
def minilm() -> Backend:
    """The packaged MiniLM through the harness's sentence-transformers backend, on CPU."""
    return load_backend(get_spec(MINILM), LoadSettings(device="cpu"))


@pytest.fixture(scope="module")
def tiny_qwen(tiny_qwen_dir: Path) -> Backend:
    """The tiny random Qwen2 through the jina-code spec (last-token pooling), float32 on CPU."""
    spec = get_spec(CODE_05B, local_path=str(tiny_qwen_dir))
    return load_backend(spec, LoadSettings(device="cpu", dtype="float32"))


@pytest.mark.parametrize("budget", [64, 300, 2048])
def test_minilm_budget_vectors_equal_count_based(minilm: Backend, budget: int) -> None:
    """Any token budget gives the count-based vectors (1e-5), rows in input order."""
    want = EncodingEngine(8, show_progress=False).encode(minilm, TEXTS).vectors
    got = EncodingEngine(8, show_progress=False, max_batch_tokens=budget).encode(minilm, TEXTS)
    np.testing.assert_allclose(got.vectors, want, atol=1e-5)
    assert got.stats.final_max_batch_tokens == budget and got.stats.oom_retries == 0


@pytest.mark.parametrize("budget", [48, 400])
def test_tiny_qwen_budget_vectors_equal_count_based(tiny_qwen: Backend, budget: int) -> None:
    """The same on the tiny Qwen2 (left padding, last-token pooling)."""
    want = EncodingEngine(8, show_progress=False).encode(tiny_qwen, TEXTS).vectors
    engine = EncodingEngine(8, show_progress=False, max_batch_tokens=budget)
    np.testing.assert_allclose(engine.encode(tiny_qwen, TEXTS).vectors, want, atol=1e-5)


@pytest.mark.parametrize(("batch_size", "budget"), [(8, 300), (16, 1000), (4, 64)])
def test_batches_keep_the_budget_and_the_row_cap(
    minilm: Backend, batch_size: int, budget: int
) -> None:
    """Each padded batch: ≤ budget tokens unless one row, ≤ batch_size rows, greedily full;
    every text is encoded exactly once."""
    recorder = ShapeRecorder(minilm)
    engine = EncodingEngine(batch_size, show_progress=False, max_batch_tokens=budget)
    seen: list[np.ndarray] = []
    engine.encode(recorder, TEXTS, sink=lambda idx, vec: seen.append(idx))
    lengths = sorted(minilm.tokenize(TEXTS, minilm.info.max_length).lengths(), reverse=True)
    assert any(rows * padded > budget and rows == 1 for rows, padded in recorder.shapes) == (
        lengths[0] > budget
    )
    start = 0
    for rows, padded in recorder.shapes:
        assert rows <= batch_size
        assert rows * padded <= budget or rows == 1
        assert padded == lengths[start]  # padded to the batch's longest text, no further
        start += rows
        if start < len(lengths):  # full: one more row would break the cap or the budget
            assert rows == batch_size or (rows + 1) * padded > budget
    assert start == len(TEXTS)
    assert sorted(np.concatenate(seen).tolist()) == list(range(len(TEXTS)))


def test_count_based_batches_are_unchanged(minilm: Backend) -> None:
    """Without a budget every batch but the last has exactly batch_size rows."""
    recorder = ShapeRecorder(minilm)
    EncodingEngine(16, show_progress=False).encode(recorder, TEXTS)
    assert [rows for rows, _ in recorder.shapes] == [16, 16, 8]


def test_batch_rows_rule() -> None:
    """The first (longest) text sets the padded length; an over-budget text rides alone."""
    lengths = [500, 100, 90, 90, 10, 10, 10]
    assert batch_rows(lengths, 0, 8, 256) == 1  # longer than the budget: its own batch
    assert batch_rows(lengths, 1, 8, 256) == 2  # 100 × 2 ≤ 256 < 100 × 3
    assert batch_rows(lengths, 4, 8, 256) == 3  # the rest, under the row cap
    assert batch_rows(lengths, 1, 2, None) == 2  # count-based: the row cap only
    assert batch_rows(lengths, 6, 8, None) == 1


def test_sweep_setting_and_cli_override() -> None:
    """``max_batch_tokens`` in settings and per model; --max-batch-tokens sets every model."""
    sweep = parse_sweep(
        {
            "settings": {"batch_size": 128, "max_batch_tokens": 32768},
            "models": [MINILM, {"name": "st:other", "max_batch_tokens": 4096}],
            "tasks": ["HumanEvalRetrievalOffline"],
        }
    )
    assert [m.settings.max_batch_tokens for m in sweep.models] == [32768, 4096]
    assert sweep.models[0].settings.batch_size == 128
    overridden = with_overrides(sweep, None, None, False, max_batch_tokens=1024)
    assert [m.settings.max_batch_tokens for m in overridden.models] == [1024, 1024]
    assert with_overrides(sweep, None, None, False).models == sweep.models
    default = parse_sweep({"models": [MINILM], "tasks": ["HumanEvalRetrievalOffline"]})
    # No batching set: both None, so each cell takes its device's default (pick_batching).
    settings = default.models[0].settings
    assert (settings.batch_size, settings.max_batch_tokens) == (None, None)


@pytest.mark.parametrize("bad", [0, -5, "many", 1.5, True])
def test_bad_budget_is_a_one_line_error(bad: object) -> None:
    """A budget that is not a positive integer is rejected with the fix."""
    with pytest.raises(HarnessError, match="max_batch_tokens must be a positive integer"):
        parse_sweep(
            {
                "settings": {"max_batch_tokens": bad},
                "models": [MINILM],
                "tasks": ["HumanEvalRetrievalOffline"],
            }
        )


def test_device_batching_defaults() -> None:
    """Unset batching takes the device's row (CUDA: 128 rows in 32,768-token batches; CPU and
    other devices: 32 rows, count-based); what a sweep sets always wins."""
    assert DEVICE_BATCHING == {"cuda": (128, 32768), "cpu": (32, None)}
    assert pick_batching(None, None, "cuda:1") == (128, 32768)
    assert pick_batching(None, None, "cpu") == (32, None)
    assert pick_batching(None, None, "mps") == (32, None)
    assert pick_batching(None, 4096, "cuda") == (128, 4096)  # budget set: default row cap
    assert pick_batching(None, 4096, "cpu") == (32, 4096)
    assert pick_batching(8, None, "cuda") == (8, None)  # row cap alone: count-based, as set
    assert pick_batching(8, 1024, "cuda") == (8, 1024)


@pytest.mark.parametrize("bad", [0, -5, "many", 1.5, True])
def test_bad_batch_size_is_a_one_line_error(bad: object) -> None:
    """A row cap that is not a positive integer is rejected with the fix."""
    with pytest.raises(HarnessError, match="batch_size must be a positive integer") as caught:
        parse_sweep(
            {
                "settings": {"batch_size": bad},
                "models": [MINILM],
                "tasks": ["HumanEvalRetrievalOffline"],
            }
        )
    assert "\n" not in str(caught.value)
