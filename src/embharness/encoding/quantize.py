"""Quantise cached float32 vectors: float16, int8 (corpus-calibrated), packed binary.

The quantisation itself is sentence-transformers' ``quantize_embeddings``. int8 needs per-
dimension ranges; they are computed once per (model, task, dim) on the **corpus** vectors and
reused for the queries, unlike mteb's ``CompressionWrapper``, which calibrates every encode call.
"""

from __future__ import annotations

import numpy as np

from embharness.errors import HarnessError

PRECISIONS = ("float32", "float16", "int8", "ubinary", "binary-rescore")
# Bytes one vector of ``dim`` dimensions takes at each precision (binary: one bit a dim).
BYTES_PER_DIM = {"float32": 4.0, "float16": 2.0, "int8": 1.0, "ubinary": 0.125}


def bytes_per_vector(precision: str, dim: int) -> float:
    """Storage of one corpus vector (binary-rescore keeps binary docs, like ubinary)."""
    check_precision(precision)
    key = "ubinary" if precision == "binary-rescore" else precision
    return BYTES_PER_DIM[key] * dim


def check_precision(precision: str) -> None:
    """One-line error for a precision the grid does not know."""
    if precision not in PRECISIONS:
        raise HarnessError(
            f"unknown precision {precision!r}",
            f"use one of {', '.join(PRECISIONS)}",
        )


def calibration_ranges(corpus: np.ndarray) -> np.ndarray:
    """Per-dimension (min, max) of the corpus vectors, shape (2, dim), as ST expects."""
    corpus = np.asarray(corpus, dtype=np.float32)
    return np.vstack([corpus.min(axis=0), corpus.max(axis=0)])


def quantize(vectors: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """``vectors`` at ``precision`` through sentence-transformers' ``quantize_embeddings``.

    float16 comes back as float16, int8 as int8 (``ranges`` required), the binary precisions
    as packed uint8 bits (8 dims a byte, bit = value > 0).
    """
    from sentence_transformers.quantization import quantize_embeddings

    check_precision(precision)
    vectors = np.asarray(vectors, dtype=np.float32)
    if precision == "float32":
        return vectors
    if precision == "float16":
        return vectors.astype(np.float16)
    if precision == "int8":
        if ranges is None:
            raise HarnessError(
                "int8 quantisation needs calibration ranges",
                "pass calibration_ranges(corpus vectors)",
            )
        return np.asarray(quantize_embeddings(vectors, precision="int8", ranges=ranges))
    return np.asarray(quantize_embeddings(vectors, precision="ubinary"))


def unpack_signs(packed: np.ndarray, dim: int) -> np.ndarray:
    """Packed bits back to ±1 float32 vectors of ``dim`` dims (rescoring's doc side)."""
    bits = np.unpackbits(packed, axis=-1)[..., :dim]
    return bits.astype(np.float32) * 2.0 - 1.0
