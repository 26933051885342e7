"""Which attention kernel a model runs with: the ``attn_implementation`` setting.

``auto`` (the default) is flash-attention 2 on CUDA when the ``flash_attn`` package imports,
else PyTorch's ``sdpa``. ``sdpa``, ``eager`` and ``flash_attention_2`` ask for one kernel; a
request that cannot run here is a one-line error. The kernel actually used, read back from
the loaded model, goes into the cache key and the run record: kernels agree only within
floating-point tolerance.

With flash-attention 2, decoder backends (jina-code's Qwen2) run *packed*: a batch's texts are
concatenated into one row with per-text ``position_ids`` and ``cu_seq_lens``, so no padding
token is computed anywhere (``hf_backend.PackedBatch``). transformers' other kernels see
padded batches.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from embharness.errors import HarnessError

if TYPE_CHECKING:  # sweep validation imports this module; it must not pay for torch
    import torch

ATTN_IMPLEMENTATIONS = ("auto", "sdpa", "flash_attention_2", "eager")
FLASH = "flash_attention_2"
# What a remote-code model reports when it runs its own attention (jina-embeddings-v3's code
# has a flash-attn switch, ``use_flash_attn``, and otherwise its own torch attention).
REMOTE_OWN = "remote_code_default"


# Decoders whose transformers code reads packed sequences from ``position_ids`` (masking_utils'
# packed-sequence detection and flash-attention 2's varlen path): jina-code's Qwen2 and kin.
PACKABLE_MODEL_TYPES = frozenset({"qwen2", "qwen3", "llama", "mistral"})


def flash_attn_usable(device: torch.device) -> bool:
    """Whether flash-attn can run: CUDA and an importable ``flash_attn`` package."""
    return device.type == "cuda" and importlib.util.find_spec("flash_attn") is not None


def check_attn_implementation(requested: str) -> str:
    """``requested`` if it is a known setting, else the one-line error listing them."""
    if requested not in ATTN_IMPLEMENTATIONS:
        raise HarnessError(
            f"unknown attn_implementation {requested!r}",
            f"use one of {', '.join(ATTN_IMPLEMENTATIONS)}",
        )
    return requested


def resolve_attention(requested: str, device: torch.device) -> str:
    """The kernel to ask transformers for: ``auto`` resolved for ``device``."""
    check_attn_implementation(requested)
    usable = flash_attn_usable(device)
    if requested == "auto":
        return FLASH if usable else "sdpa"
    if requested == FLASH and not usable:
        raise HarnessError(
            f"attn_implementation {FLASH} needs CUDA and the flash_attn package ({device} here)",
            "pip install flash-attn on the GPU machine, or set attn_implementation: auto",
        )
    return requested


def resolve_remote_attention(requested: str, device: torch.device) -> str:
    """The same choice for remote code that takes only a flash-attn on/off switch."""
    if check_attn_implementation(requested) in ("sdpa", "eager"):
        raise HarnessError(
            f"attn_implementation {requested!r} is not a choice for this model's remote code "
            "(it runs flash-attn or its own attention)",
            f"set attn_implementation: auto or {FLASH}",
        )
    resolved = resolve_attention(requested, device)
    return FLASH if resolved == FLASH else REMOTE_OWN


def packs_batches(attention: str, model_type: str | None) -> bool:
    """Whether batches run packed: flash-attention 2 on a packable decoder."""
    return attention == FLASH and model_type in PACKABLE_MODEL_TYPES


def loaded_attention(model: object, asked: str) -> str:
    """The kernel the loaded model reports (transformers' ``config._attn_implementation``)."""
    used = getattr(getattr(model, "config", None), "_attn_implementation", None)
    return str(used) if used else asked
