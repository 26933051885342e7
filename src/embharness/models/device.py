"""Device and dtype choice: the published dtype on GPU, fp32 on CPU."""

from __future__ import annotations

import torch

from embharness.errors import HarnessError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


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
