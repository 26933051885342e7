"""Late chunking for mean-pooling models (Günther et al., jina-ai/late-chunking).

A long document is run through the model whole, up to ``max_length`` tokens; beyond it, in
macro-chunks of ``max_length`` tokens that overlap by ``overlap`` tokens (each later window's
first ``overlap`` states are dropped, as in jina's ``long_late_chunking``). Every chunk's vector
is then the mean of the *contextual* token states over its span, so each chunk sees the whole
document (or its macro window). It only makes sense for mean pooling: last-token models
(jina-code) are refused.

The forward pass is a callable ``token_states(input_ids, attention_mask) -> (1, n, dim)``, so the
same code runs on a plain ``AutoModel``, the jina-v3 remote code (with an adapter mask) or any
backend that exposes its last hidden state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from embharness.errors import HarnessError

TokenStates = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Span = tuple[int, int]


@dataclass(frozen=True)
class LateChunkSettings:
    """Macro window (``max_length`` incl. special tokens), window overlap, chunk size in tokens."""

    max_length: int = 8192
    overlap: int = 256
    chunk_tokens: int = 256


def require_mean_pooling(pooling: str, model: str = "this model") -> None:
    """Refuse late chunking for any pooling but mean (one-line error naming the fix)."""
    if pooling != "mean":
        raise HarnessError(
            f"late chunking needs mean pooling, but {model} uses {pooling!r} pooling",
            "use chunking: truncate or chunking: chunk_then_embed for this model",
        )


def fixed_spans(n_tokens: int, chunk_tokens: int) -> list[Span]:
    """Consecutive ``[start, end)`` spans of ``chunk_tokens`` tokens covering ``n_tokens``."""
    if chunk_tokens < 1:
        raise HarnessError(f"chunk_tokens must be ≥ 1, got {chunk_tokens}", "set chunk_tokens ≥ 1")
    return [(s, min(s + chunk_tokens, n_tokens)) for s in range(0, max(n_tokens, 1), chunk_tokens)]


def macro_windows(n_tokens: int, window: int, overlap: int) -> list[Span]:
    """Windows of ``window`` tokens, each starting ``window - overlap`` after the last."""
    if not 0 <= overlap < window:
        raise HarnessError(
            f"overlap {overlap} must be in [0, {window})", "lower overlap below max_length"
        )
    starts = range(0, max(n_tokens - overlap, 1), window - overlap)
    return [(s, min(s + window, n_tokens)) for s in starts]


def contextual_states(
    token_states: TokenStates,
    content_ids: Sequence[int],
    settings: LateChunkSettings,
    prefix_ids: Sequence[int] = (),
    suffix_ids: Sequence[int] = (),
) -> torch.Tensor:
    """(n_content, dim) float32 states of every content token, macro-chunked beyond max_length.

    ``prefix_ids``/``suffix_ids`` are the model's special tokens (e.g. [CLS]/[SEP]), added to every
    macro window; their states are not returned.
    """
    window = settings.max_length - len(prefix_ids) - len(suffix_ids)
    if window < 1:
        raise HarnessError(
            f"max_length {settings.max_length} leaves no room for content", "raise max_length"
        )
    pieces: list[torch.Tensor] = []
    for index, (start, end) in enumerate(macro_windows(len(content_ids), window, settings.overlap)):
        ids = torch.tensor([[*prefix_ids, *content_ids[start:end], *suffix_ids]])
        with torch.no_grad():
            hidden = token_states(ids, torch.ones_like(ids))[0].float()
        states = hidden[len(prefix_ids) : len(prefix_ids) + end - start]
        pieces.append(states if index == 0 else states[settings.overlap :])
    return torch.cat(pieces)


def pool_spans(states: torch.Tensor, spans: Sequence[Span]) -> torch.Tensor:
    """(len(spans), dim): the mean of ``states`` over each ``[start, end)`` token span."""
    return torch.stack([states[start:end].mean(dim=0) for start, end in spans])


def hf_token_states(model: torch.nn.Module, **extra: object) -> TokenStates:
    """A ``TokenStates`` callable over a transformers model's last hidden state."""

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        kwargs = {k: (v(input_ids) if callable(v) else v) for k, v in extra.items()}
        out = model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        states: torch.Tensor = out[0]
        return states

    return forward


def special_ids(tokenizer: object) -> tuple[list[int], list[int]]:
    """The prefix and suffix special tokens the tokenizer adds around a text."""
    empty: list[int] = tokenizer("", add_special_tokens=True)["input_ids"]  # type: ignore[operator]
    if not empty:
        return [], []
    cls_id = getattr(tokenizer, "cls_token_id", None) or getattr(tokenizer, "bos_token_id", None)
    prefix = empty[:1] if cls_id is not None and empty[0] == cls_id else []
    return prefix, empty[len(prefix) :]


def _tokens(tokenizer: object, text: str) -> tuple[list[int], list[int], list[int]]:
    """``text``'s token ids without special tokens, and the tokenizer's (prefix, suffix) ids."""
    content: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]  # type: ignore[operator]
    prefix, suffix = special_ids(tokenizer)
    return content, prefix, suffix


def late_chunk_text(
    token_states: TokenStates,
    tokenizer: object,
    text: str,
    settings: LateChunkSettings,
) -> torch.Tensor:
    """(n_chunks, dim) late-chunked vectors of ``text`` in fixed token spans (un-normalised)."""
    content, prefix, suffix = _tokens(tokenizer, text)
    states = contextual_states(token_states, content, settings, prefix, suffix)
    return pool_spans(states, fixed_spans(len(content), settings.chunk_tokens))


def chunk_then_embed_text(
    token_states: TokenStates,
    tokenizer: object,
    text: str,
    settings: LateChunkSettings,
) -> torch.Tensor:
    """(n_chunks, dim): the same spans, each encoded on its own and mean-pooled (the baseline)."""
    content, prefix, suffix = _tokens(tokenizer, text)
    vectors = []
    for start, end in fixed_spans(len(content), settings.chunk_tokens):
        ids = torch.tensor([[*prefix, *content[start:end], *suffix]])
        with torch.no_grad():
            hidden = token_states(ids, torch.ones_like(ids))[0].float()
        vectors.append(hidden.mean(dim=0))
    return torch.stack(vectors)
