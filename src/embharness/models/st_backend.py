"""A backend over a sentence-transformers model, running its own modules exactly."""

from __future__ import annotations

from typing import Any

import torch

from embharness.models.backend import BackendInfo, Tokenized
from embharness.models.hf_backend import tokenize_with_truncation_count


class STBackend:
    """Tokenizes like sentence-transformers' Transformer module and runs all its modules."""

    def __init__(self, model: Any, info: BackendInfo) -> None:
        self.model = model
        self.first = model[0]
        self.tokenizer = self.first.tokenizer
        self.info = info
        self.device = model.device
        self.dtype = next(model.parameters()).dtype

    def tokenize(self, texts: list[str], max_length: int) -> Tokenized:
        """Lower-case when the model does, as sentence-transformers does.

        Stripping is the spec's whitespace rule, applied before (``EncodingPlan.model_input``).
        """
        cleaned = [str(t) for t in texts]
        if getattr(self.first, "do_lower_case", False):
            cleaned = [t.lower() for t in cleaned]
        return tokenize_with_truncation_count(self.tokenizer, cleaned, max_length)

    def forward(self, batch: dict[str, torch.Tensor], adapter: str | None) -> torch.Tensor:
        """The model's ``sentence_embedding`` output (its own pooling and normalisation)."""
        del adapter
        embedding: torch.Tensor = self.model(batch)["sentence_embedding"]
        return embedding
