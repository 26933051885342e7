"""Pooling of token states into one vector per text (a table of pure functions).

Every function returns float32 and computes in float32: half-precision states are cast first,
since a sum over the sequence in float16 can overflow to inf.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The final non-pad token's state, for left or right padding (the model card's recipe).

    The last 1 of each mask row, found on the device: no host sync, so the next batch can be
    prepared while this one runs.
    """
    length = attention_mask.shape[1]
    last = length - 1 - attention_mask.flip(1).argmax(dim=1)
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


def packed_segments(cu_seq_lens: torch.Tensor) -> torch.Tensor:
    """Each packed token's text index (0 … n-1) from the cumulative lengths ``[0, l0, l0+l1…]``."""
    lengths = cu_seq_lens.diff().long()
    return torch.repeat_interleave(torch.arange(len(lengths), device=lengths.device), lengths)


def packed_pool(pooling: str, hidden: torch.Tensor, cu_seq_lens: torch.Tensor) -> torch.Tensor:
    """``pooling`` over a packed row ``hidden`` (1, total, dim) holding n texts back to back."""
    states = hidden[0].float()
    starts, ends = cu_seq_lens[:-1].long(), cu_seq_lens[1:].long()
    if pooling == "last_token":
        return states[ends - 1]
    if pooling == "cls":
        return states[starts]
    segments = packed_segments(cu_seq_lens)
    sums = torch.zeros(len(starts), states.shape[1], device=states.device).index_add_(
        0, segments, states
    )
    return sums / (ends - starts).clamp(min=1).unsqueeze(1).to(sums.dtype)
