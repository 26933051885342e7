"""Device and dtype choice: the published dtype on GPU, fp32 on CPU."""

from __future__ import annotations

import torch

from embharness.errors import HarnessError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# Batching where a sweep sets none: (row cap, padded-token budget per batch) by device type.
# CUDA: on an H100, jina-code-0.5b's shape ran 39 k tokens/s in the harness at 32 count-based
# rows and 210 k in a plain loop of length-sorted batches of at most 32,768 padded tokens
# (issue 11; benchmarks/bench_gpu.py measures the harness at these defaults).
# CPU: a token budget bought nothing measurable on MiniLM (158.8 texts/s without, 155-175
# with 4,096-16,384; benchmarks/bench_token_budget.py), so 32 rows as before.
DEVICE_BATCHING: dict[str, tuple[int, int | None]] = {"cuda": (128, 32768), "cpu": (32, None)}


def pick_device(requested: str | None = None) -> torch.device:
    """``requested`` if given, else CUDA when available, else CPU."""
    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise HarnessError(
                f"device {requested!r} requested but CUDA is not available",
                "drop --device or run on a machine with a GPU",
            )
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(requested: str, device: torch.device, published: str = "float32") -> torch.dtype:
    """``auto`` means the spec's published dtype on GPU and float32 on CPU.

    A CPU float32 run of a half-precision model is the exception the leaderboard tolerates; it
    is recorded, named as an experiment and marked in the report.
    """
    if requested == "auto":
        return DTYPES[published] if device.type == "cuda" else torch.float32
    if requested not in DTYPES:
        raise HarnessError(f"unknown dtype {requested!r}", f"use one of auto, {', '.join(DTYPES)}")
    return DTYPES[requested]  # half precision runs on CPU too (slowly), for parity checks


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float16`` → ``float16``."""
    return str(dtype).removeprefix("torch.")


def pick_batching(
    batch_size: int | None, max_batch_tokens: int | None, device: str
) -> tuple[int, int | None]:
    """The (row cap, token budget) a cell runs with: the sweep's where it set one, else the
    device type's default (``DEVICE_BATCHING``; other devices take the CPU row).

    The budget defaults only with the row cap: a sweep that sets ``batch_size`` alone keeps
    count-based batches, as before these defaults.
    """
    default_rows, default_budget = DEVICE_BATCHING.get(
        torch.device(device).type, DEVICE_BATCHING["cpu"]
    )
    if batch_size is not None:
        return batch_size, max_batch_tokens
    return default_rows, max_batch_tokens if max_batch_tokens is not None else default_budget
