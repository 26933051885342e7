"""The interface every model backend offers the encoding engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch


@dataclass
class Tokenized:
    """Unpadded token features per text, and how many texts were cut at max length."""

    features: list[dict[str, list[int]]]
    truncated: int = 0

    def lengths(self) -> list[int]:
        """Token count of each text."""
        return [len(f["input_ids"]) for f in self.features]


@dataclass
class BackendInfo:
    """What identifies a backend's vectors: part of every cache key and run record."""

    name: str
    revision: str | None
    loader: str
    pooling: str
    dtype: str
    max_length: int
    device: str
    embed_dim: int
    weights_hash: str | None = None
    peft_adapter: dict[str, str] | None = None
    # transformers' default kernel; loaders set the one resolved and read back (models.attention)
    attn_implementation: str = "sdpa"
    packed: bool = False  # batches packed into one row, no padding (models.attention)
    extra: dict[str, Any] = field(default_factory=dict)

    def cache_identity(self) -> dict[str, Any]:
        """The fields that change a vector (not the device)."""
        return {
            "name": self.name,
            "revision": self.revision,
            "loader": self.loader,
            "pooling": self.pooling,
            "dtype": self.dtype,
            "weights_hash": self.weights_hash,
            "peft_adapter": self.peft_adapter,
            "attn_implementation": self.attn_implementation,
            "packed": self.packed,
            **self.extra,
        }


class Backend(Protocol):
    """A loaded model: tokenizes texts and maps a padded batch to raw pooled vectors.

    A backend may also offer ``collate(features) -> batch`` (CPU tensors) to build its own
    batches (packed ones); the engine pads with the tokenizer otherwise.
    """

    info: BackendInfo
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype

    def tokenize(self, texts: list[str], max_length: int) -> Tokenized:
        """Tokenize without padding, truncating at ``max_length`` tokens."""
        ...

    def forward(self, batch: dict[str, Any], adapter: str | None) -> torch.Tensor:
        """Pooled, un-normalised vectors (batch, embed_dim) for one batch on the device."""
        ...
