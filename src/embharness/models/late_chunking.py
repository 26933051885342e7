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
from typing import Any

import torch

from embharness.errors import HarnessError

TokenStates = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Span = tuple[int, int]
WINDOW_BATCH = 8  # macro windows per forward pass


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


def edge_spans(n_tokens: int, lead: int, trail: int, chunk_tokens: int) -> list[Span]:
    """``fixed_spans`` over the tokens between ``lead`` and ``n_tokens - trail``, shifted there,
    with the first span widened to position 0 and the last to ``n_tokens``.

    Leading special tokens (and an instruction prefix) belong to the first chunk, trailing ones
    to the last, so a text that fits one chunk gets exactly plain mean pooling over all tokens.
    """
    inner = max(n_tokens - lead - trail, 0)
    spans = [(lead + s, lead + e) for s, e in fixed_spans(inner, chunk_tokens)]
    spans[0] = (0, spans[0][1])
    spans[-1] = (spans[-1][0], n_tokens)
    return spans


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
    keep_edges: bool = False,
    pad_id: int = 0,
) -> torch.Tensor:
    """(n_content, dim) float32 states of every content token, macro-chunked beyond max_length.

    ``prefix_ids``/``suffix_ids`` are the model's special tokens (e.g. [CLS]/[SEP]), added to every
    macro window; their states are not returned, unless ``keep_edges``: then the first window's
    prefix states lead and the last window's suffix states trail (``len(prefix) + n_content +
    len(suffix)`` rows, the positions of the whole tokenized text). The windows run as right-padded
    batches of ``WINDOW_BATCH`` (``pad_id`` under a zero attention mask).
    """
    window = settings.max_length - len(prefix_ids) - len(suffix_ids)
    if window < 1:
        raise HarnessError(
            f"max_length {settings.max_length} leaves no room for content", "raise max_length"
        )
    windows = macro_windows(len(content_ids), window, settings.overlap)
    rows = [[*prefix_ids, *content_ids[start:end], *suffix_ids] for start, end in windows]
    hidden = [
        h
        for b in range(0, len(rows), WINDOW_BATCH)
        for h in _forward_rows(token_states, rows[b : b + WINDOW_BATCH], pad_id)
    ]
    first = len(prefix_ids)
    pieces: list[torch.Tensor] = []
    for index, ((start, end), states) in enumerate(zip(windows, hidden, strict=True)):
        if keep_edges and index == 0:
            pieces.append(states[:first])
        content = states[first : first + end - start]
        pieces.append(content if index == 0 else content[settings.overlap :])
        if keep_edges and index == len(windows) - 1:
            pieces.append(states[first + end - start :])
    return torch.cat(pieces)


def _forward_rows(token_states: TokenStates, rows: list[list[int]], pad_id: int) -> list:
    """Each row's float32 CPU states (unpadded) from one right-padded forward."""
    longest = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad_id] * (longest - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in rows])
    with torch.inference_mode():
        hidden = token_states(ids, mask).float().cpu()
    return [hidden[i, : len(r)] for i, r in enumerate(rows)]


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


ST_MEAN_MODULES = frozenset({"Transformer", "Pooling", "Normalize"})


def backend_token_states(backend: Any, adapter: str | None = None) -> TokenStates:
    """A ``TokenStates`` callable over a loaded backend's contextual token states.

    sentence-transformers (``STBackend``): its Transformer module's ``token_embeddings`` (the
    model must be Transformer → Pooling → Normalize only: later modules would be skipped);
    transformers (``HFBackend``): the model's last hidden state; jina-v3 (``AdapterMaskBackend``):
    the same with ``adapter_mask`` selecting ``adapter``. Inputs go to the backend's device.
    """
    first = getattr(backend, "first", None)
    if first is not None:
        return _st_token_states(backend, first)
    if adapter is not None and not hasattr(backend, "adapter_id"):
        raise HarnessError(
            f"model {backend.info.name} has no task adapter {adapter!r}",
            "remove the adapter from the spec",
        )
    extra: dict[str, Any] = {}
    if adapter is not None:
        adapter_id = backend.adapter_id(adapter)
        extra["adapter_mask"] = lambda ids: torch.full(
            (ids.shape[0],), adapter_id, dtype=torch.int32, device=ids.device
        )
    return _on_device(hf_token_states(backend.model, **extra), backend.device)


def _on_device(forward: TokenStates, device: torch.device) -> TokenStates:
    def moved(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return forward(input_ids.to(device), attention_mask.to(device))

    return moved


def _st_token_states(backend: Any, first: Any) -> TokenStates:
    modules = [type(m).__name__ for m in backend.model]
    if not set(modules) <= ST_MEAN_MODULES:
        raise HarnessError(
            f"late chunking reads token states before pooling, but {backend.info.name} has "
            f"modules {modules} (only Transformer, Pooling, Normalize can be reproduced)",
            "use chunking: chunk_then_embed for this model",
        )

    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        features = {"input_ids": input_ids, "attention_mask": attention_mask}
        states: torch.Tensor = first(features)["token_embeddings"]
        return states

    return _on_device(forward, backend.device)
