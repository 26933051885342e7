"""Late chunking: span pooling against independent computations on MiniLM and the v3 stand-in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from embharness.errors import HarnessError
from embharness.models.late_chunking import (
    LateChunkSettings,
    chunk_then_embed_text,
    contextual_states,
    edge_spans,
    hf_token_states,
    late_chunk_text,
    macro_windows,
    pool_spans,
    require_mean_pooling,
)
from embharness.models.pooling import mean_pool

TEXT = " ".join(f"def function_{i}(x): return x * {i} + len('word{i}')" for i in range(12))


def _minilm(path: Path) -> tuple:
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def test_single_chunk_equals_plain_mean_pooling(minilm_path: Path) -> None:
    """One span over the whole text, one window: exactly mean pooling of the whole text."""
    tokenizer, model = _minilm(minilm_path)
    batch = tokenizer([TEXT], return_tensors="pt")
    with torch.no_grad():
        plain = mean_pool(model(**batch).last_hidden_state, batch["attention_mask"])
    ids = batch["input_ids"][0].tolist()
    states = contextual_states(hf_token_states(model), ids, LateChunkSettings(max_length=512))
    torch.testing.assert_close(pool_spans(states, [(0, len(ids))]), plain, atol=1e-6, rtol=0)


def _by_hand(tokenizer: Any, forward: Any, text: str, chunk: int) -> torch.Tensor:
    """Independent late chunking within one window: forward the whole text, mean each span."""
    batch = tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        hidden = forward(batch["input_ids"], batch["attention_mask"])[0]
    content = hidden[1:-1]  # drop [CLS] and [SEP]
    return torch.stack([content[s : s + chunk].mean(0) for s in range(0, len(content), chunk)])


def test_span_pooling_matches_independent_minilm(minilm_path: Path) -> None:
    tokenizer, model = _minilm(minilm_path)
    forward = lambda ids, mask: model(input_ids=ids, attention_mask=mask).last_hidden_state  # noqa: E731
    got = late_chunk_text(forward, tokenizer, TEXT, LateChunkSettings(512, 0, 32))
    want = _by_hand(tokenizer, forward, TEXT, 32)
    assert got.shape[0] > 3
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    # contextual: differs from encoding each span on its own
    alone = chunk_then_embed_text(forward, tokenizer, TEXT, LateChunkSettings(512, 0, 32))
    assert alone.shape == got.shape and not torch.allclose(alone, got, atol=1e-3)


def test_span_pooling_matches_independent_v3_standin(v3_dir: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(v3_dir)
    model = AutoModel.from_pretrained(v3_dir, trust_remote_code=True, use_flash_attn=False).eval()
    task_id = model._adaptation_map["retrieval.passage"]

    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        adapter = torch.full((ids.shape[0],), task_id, dtype=torch.int32)
        states: torch.Tensor = model(ids, mask, adapter_mask=adapter)[0]
        return states

    got = late_chunk_text(forward, tokenizer, TEXT, LateChunkSettings(512, 0, 40))
    torch.testing.assert_close(got, _by_hand(tokenizer, forward, TEXT, 40), atol=1e-5, rtol=0)


def test_macro_windows_cover_every_token_once(minilm_path: Path) -> None:
    """Beyond max_length: windows overlap, yet every content token's state appears once."""
    tokenizer, model = _minilm(minilm_path)
    content = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    states = contextual_states(
        hf_token_states(model), content, LateChunkSettings(max_length=64, overlap=16), [101], [102]
    )
    assert states.shape[0] == len(content) > 64
    # the first window's states equal a plain forward of that window
    ids = torch.tensor([[101, *content[:62], 102]])
    with torch.no_grad():
        window = model(input_ids=ids).last_hidden_state[0, 1:-1]
    torch.testing.assert_close(states[:62], window, atol=1e-5, rtol=0)


def test_refuses_last_token_pooling() -> None:
    with pytest.raises(HarnessError, match=r"mean pooling.*fix: use chunking"):
        require_mean_pooling("last_token", "jina-code-embeddings")
    require_mean_pooling("mean")


def test_padded_window_batch_equals_one_window_at_a_time(minilm_path: Path) -> None:
    """Windows run right-padded in batches: every state equals the window run on its own."""
    tokenizer, model = _minilm(minilm_path)
    content = tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    settings = LateChunkSettings(max_length=48, overlap=8)
    forward = hf_token_states(model)
    batched = contextual_states(forward, content, settings, [101], [102], keep_edges=True)
    alone = []
    for start, end in macro_windows(len(content), 46, 8):
        ids = torch.tensor([[101, *content[start:end], 102]])
        with torch.no_grad():
            alone.append(model(input_ids=ids).last_hidden_state[0])
    want = [alone[0][:1], alone[0][1:-1]]
    want += [w[1:-1][8:] for w in alone[1:]] + [alone[-1][-1:]]
    assert len(alone) > 2 and batched.shape[0] == len(content) + 2
    torch.testing.assert_close(batched, torch.cat(want), atol=1e-5, rtol=0)


def test_edge_spans_give_specials_to_the_outer_chunks() -> None:
    assert edge_spans(10, 1, 1, 3) == [(0, 4), (4, 7), (7, 10)]
    assert edge_spans(6, 3, 1, 8) == [(0, 6)]  # one chunk: every token, as plain pooling
    assert edge_spans(2, 1, 1, 4) == [(0, 2)]  # no content: the specials alone
