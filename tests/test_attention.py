"""The attention setting and packed batches.

Packed batches run on the GPU with flash-attention 2; here they run through the same
transformers code with sdpa (its packed-sequence detection builds the block-diagonal mask), so
the packing and the packed pooling are checked against padded batches of the same model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from embharness.errors import HarnessError
from embharness.models.attention import resolve_attention, resolve_remote_attention
from embharness.models.backend import Backend
from embharness.models.engine import EncodingEngine
from embharness.models.hf_backend import HFBackend, pack
from embharness.models.loading import LoadSettings, describe_backend, load_backend
from embharness.models.pooling import last_token_pool, mean_pool, packed_pool
from embharness.run.sweep import parse_sweep
from embharness.specs.registry import get_spec

CODE_05B = "jinaai/jina-code-embeddings-0.5b"
WORDS = ["def", "parse", "(", "self", ")", "return", "tokens", "#", "the", "docstring"]
TEXTS = [" ".join(WORDS[j % len(WORDS)] for j in range((i * 29) % 70 + 1)) for i in range(25)]
CPU = torch.device("cpu")


def _tiny_qwen(folder: Path, attention: str = "auto") -> Backend:
    spec = get_spec(CODE_05B, local_path=str(folder))
    return load_backend(
        spec, LoadSettings(device="cpu", dtype="float32", attn_implementation=attention)
    )


def test_packed_batches_give_the_padded_vectors(tiny_qwen_dir: Path) -> None:
    """Texts packed into one row (position_ids restart per text) give the vectors of padded
    batches (left padding, last-token pooling) to 1e-5, rows in input order."""
    padded = _tiny_qwen(tiny_qwen_dir)
    assert isinstance(padded, HFBackend) and not padded.info.packed
    packed = HFBackend(
        padded.model, padded.tokenizer, dataclasses.replace(padded.info, packed=True)
    )
    want = EncodingEngine(8, show_progress=False).encode(padded, TEXTS).vectors
    got = EncodingEngine(8, show_progress=False, max_batch_tokens=400).encode(packed, TEXTS)
    np.testing.assert_allclose(got.vectors, want, atol=1e-5)


def test_pack_lays_texts_back_to_back() -> None:
    features = [{"input_ids": [5, 6, 7]}, {"input_ids": [8]}, {"input_ids": [9, 10]}]
    batch = pack(features)
    assert batch["input_ids"].tolist() == [[5, 6, 7, 8, 9, 10]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 0, 1]]
    assert batch["cu_seq_lens_q"].tolist() == [0, 3, 4, 6]
    assert batch["max_length_q"] == batch["max_length_k"] == 3


@pytest.mark.parametrize("pooling", ["last_token", "mean", "cls"])
def test_packed_pooling_equals_per_text_pooling(pooling: str) -> None:
    """Each text's pooled state from the packed row equals pooling it alone."""
    torch.manual_seed(0)
    lengths = [4, 1, 7, 2]
    states = [torch.randn(n, 6) for n in lengths]
    cu = torch.tensor([0, *np.cumsum(lengths)], dtype=torch.int32)
    got = packed_pool(pooling, torch.cat(states).unsqueeze(0), cu)
    alone = {"last_token": lambda s: s[-1], "mean": lambda s: s.mean(0), "cls": lambda s: s[0]}
    want = torch.stack([alone[pooling](s) for s in states])
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_pool_finds_the_last_real_token(side: str) -> None:
    """Left or right padding, computed without a host sync: the last 1 of each mask row."""
    torch.manual_seed(1)
    lengths = [5, 2, 3]
    hidden = torch.randn(3, 5, 4)
    mask = torch.zeros(3, 5, dtype=torch.long)
    for row, n in enumerate(lengths):
        if side == "left":
            mask[row, 5 - n :] = 1
        else:
            mask[row, :n] = 1
    last = [4 if side == "left" else n - 1 for n in lengths]
    want = torch.stack([hidden[row, last[row]] for row in range(3)])
    torch.testing.assert_close(last_token_pool(hidden, mask), want)
    # mean pooling sums over the same mask (independently: a loop over the real tokens)
    means = torch.stack([hidden[row][mask[row].bool()].mean(0) for row in range(3)])
    torch.testing.assert_close(mean_pool(hidden, mask), means)


def test_auto_is_sdpa_on_cpu_and_the_kernel_is_read_back(tiny_qwen_dir: Path) -> None:
    """auto → sdpa here; an explicit eager load is keyed, loaded and recorded as eager, and
    its vectors agree with sdpa's within float32 tolerance."""
    assert resolve_attention("auto", CPU) == "sdpa"
    sdpa, eager = _tiny_qwen(tiny_qwen_dir), _tiny_qwen(tiny_qwen_dir, "eager")
    assert isinstance(eager, HFBackend)
    assert (sdpa.info.attn_implementation, eager.info.attn_implementation) == ("sdpa", "eager")
    assert eager.model.config._attn_implementation == "eager"
    assert sdpa.info.cache_identity() != eager.info.cache_identity()
    engine = EncodingEngine(8, show_progress=False)
    np.testing.assert_allclose(
        engine.encode(eager, TEXTS).vectors, engine.encode(sdpa, TEXTS).vectors, atol=1e-4
    )


def test_minilm_through_sentence_transformers_records_its_kernel() -> None:
    info = describe_backend(
        get_spec("sentence-transformers/all-MiniLM-L6-v2"),
        LoadSettings(device="cpu", attn_implementation="eager"),
    )
    assert (info.attn_implementation, info.packed) == ("eager", False)
    backend = load_backend(
        get_spec("sentence-transformers/all-MiniLM-L6-v2"),
        LoadSettings(device="cpu", attn_implementation="eager"),
    )
    assert backend.model[0].auto_model.config._attn_implementation == "eager"  # type: ignore[attr-defined]


def test_flash_attention_without_cuda_is_one_line() -> None:
    with pytest.raises(HarnessError) as err:
        resolve_attention("flash_attention_2", CPU)
    assert "flash_attn" in str(err.value) and "\n" not in str(err.value)


def test_remote_code_takes_only_its_flash_switch() -> None:
    """v3's remote code chooses flash-attn or its own attention; sdpa is not a choice there."""
    assert resolve_remote_attention("auto", CPU) == "remote_code_default"
    with pytest.raises(HarnessError) as err:
        resolve_remote_attention("sdpa", CPU)
    assert "auto" in str(err.value) and "\n" not in str(err.value)


def test_unknown_attention_setting_is_one_line() -> None:
    with pytest.raises(HarnessError) as err:
        parse_sweep(
            {
                "settings": {"attn_implementation": "flash3"},
                "models": [{"name": CODE_05B, "dims": [64]}],
                "tasks": [{"name": "HumanEvalOffline"}],
            }
        )
    assert "flash_attention_2" in str(err.value) and "\n" not in str(err.value)
