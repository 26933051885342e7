"""A real backend seen through a wrapper, for tests that observe or perturb its forward calls.

The model stays real: ``tokenize`` and ``forward`` go to the wrapped backend unless a subclass
overrides ``forward`` to record what it receives or to stand in for a GPU running out of memory.
"""

from __future__ import annotations

import torch

from embharness.models.backend import Backend, Tokenized


class ObservedBackend:
    """Forwards everything to ``inner``; subclasses override ``forward``."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.info = inner.info
        self.tokenizer = inner.tokenizer
        self.device = inner.device
        self.dtype = inner.dtype

    def tokenize(self, texts: list[str], max_length: int) -> Tokenized:
        """The real backend's tokenization."""
        return self.inner.tokenize(texts, max_length)

    def forward(self, batch: dict[str, torch.Tensor], adapter: str | None) -> torch.Tensor:
        """The real backend's forward."""
        return self.inner.forward(batch, adapter)
