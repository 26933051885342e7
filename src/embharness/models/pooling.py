"""Pooling of token states into one vector per text (a table of pure functions).

Every function returns float32 and computes in float32: half-precision states are cast first,
since a sum over the sequence in float16 can overflow to inf.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The final non-pad token's state (the model card's recipe for left or right padding)."""
    left_padded = bool(attention_mask[:, -1].all())
    if left_padded:
        return hidden[:, -1].float()
    last = attention_mask.sum(dim=1) - 1
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].float()


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token states over the attention mask, summed in float32."""
    states = hidden.float()
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def cls_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The first token's state."""
    del attention_mask
    return hidden[:, 0].float()


POOLINGS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "last_token": last_token_pool,
    "mean": mean_pool,
    "cls": cls_pool,
}
