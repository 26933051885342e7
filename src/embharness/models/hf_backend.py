"""Backends over ``transformers`` models: plain AutoModel and jina-embeddings-v3's adapter model."""

from __future__ import annotations

from typing import Any

import torch

from embharness.errors import HarnessError
from embharness.models.backend import BackendInfo, Tokenized
from embharness.models.pooling import POOLINGS, packed_pool


def tokenize_with_truncation_count(tokenizer: Any, texts: list[str], max_length: int) -> Tokenized:
    """Tokenize without padding; count texts that the max length cut short."""
    encoded = tokenizer(texts, truncation=True, max_length=max_length, padding=False)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in encoded]
    features = [{k: encoded[k][i] for k in keys} for i in range(len(texts))]
    encodings = getattr(encoded, "encodings", None) or []
    truncated = sum(1 for enc in encodings if enc.overflowing)
    return Tokenized(features, truncated)


def pack(features: list[dict[str, list[int]]]) -> dict[str, Any]:
    """The texts of a batch back to back in one row: no padding anywhere.

    ``position_ids`` restart at 0 for each text, which is how transformers' masking utilities
    and flash-attention 2 (``flash_attn_varlen_func``) recognise packed sequences;
    ``cu_seq_lens_q``/``_k`` and ``max_length_q``/``_k`` are given up front, so the kernel
    needs no host sync to find them.
    """
    ids = [f["input_ids"] for f in features]
    lengths = torch.tensor([len(i) for i in ids], dtype=torch.int32)
    cu_seq_lens = torch.nn.functional.pad(lengths.cumsum(0, dtype=torch.int32), (1, 0))
    longest = int(lengths.max())
    return {
        "input_ids": torch.tensor([t for i in ids for t in i]).unsqueeze(0),
        "position_ids": torch.cat([torch.arange(n) for n in lengths.tolist()]).unsqueeze(0),
        "cu_seq_lens_q": cu_seq_lens,
        "cu_seq_lens_k": cu_seq_lens,
        "max_length_q": longest,
        "max_length_k": longest,
    }


class HFBackend:
    """AutoModel + tokenizer + a pooling function from the pooling table.

    ``info.packed`` (flash-attention 2 on a decoder): batches are packed (``pack``), else
    dynamically padded by the tokenizer.
    """

    def __init__(self, model: Any, tokenizer: Any, info: BackendInfo) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.pool = POOLINGS[info.pooling]

    def tokenize(self, texts: list[str], max_length: int) -> Tokenized:
        """Tokenize at the backend's max length."""
        return tokenize_with_truncation_count(self.tokenizer, texts, max_length)

    def collate(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        """One batch as CPU tensors: packed, or padded by the tokenizer."""
        if self.info.packed:
            return pack(features)
        batch: dict[str, Any] = self.tokenizer.pad(features, padding=True, return_tensors="pt")
        return batch

    def _model_inputs(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask")}

    def _packed_forward(self, batch: dict[str, Any]) -> torch.Tensor:
        # no KV cache: transformers reads packed sequences only without one
        output = self.model(**batch, use_cache=False)
        return packed_pool(self.info.pooling, output[0], batch["cu_seq_lens_q"])

    def forward(self, batch: dict[str, Any], adapter: str | None) -> torch.Tensor:
        """Pooled final hidden states; this backend has no task adapters."""
        if adapter is not None:
            raise HarnessError(
                f"model {self.info.name} has no task adapter {adapter!r}",
                "remove the adapter from the spec",
            )
        if self.info.packed:
            return self._packed_forward(batch)
        output = self.model(**self._model_inputs(batch))
        return self.pool(output[0], batch["attention_mask"])


class AdapterMaskBackend(HFBackend):
    """jina-embeddings-v3: LoRA task adapters chosen per batch with ``adapter_mask``."""

    def adapter_id(self, adapter: str) -> int:
        """The adapter's index in the model's ``_adaptation_map``."""
        mapping = self.model._adaptation_map
        if adapter not in mapping:
            raise HarnessError(
                f"model {self.info.name} has no adapter {adapter!r}",
                f"use one of {', '.join(mapping)}",
            )
        return int(mapping[adapter])

    def forward(self, batch: dict[str, Any], adapter: str | None) -> torch.Tensor:
        """Mean-pooled states with the adapter selected by ``adapter_mask`` (none: no LoRA)."""
        inputs = self._model_inputs(batch)
        if adapter is not None:
            size = batch["input_ids"].shape[0]
            inputs["adapter_mask"] = torch.full(
                (size,), self.adapter_id(adapter), dtype=torch.int32, device=self.device
            )
        output = self.model(**inputs)
        return self.pool(output[0], batch["attention_mask"])
