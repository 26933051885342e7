"""Self-describing run records: versions, git state, settings, prompts, timings."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import embharness

DTYPE_FROM_PARAMETERS = "model parameters"
DTYPE_FROM_KEY = "cache key (model not loaded: every vector came from the cache)"
PACKAGES = ("mteb", "torch", "transformers", "sentence-transformers", "peft", "datasets", "numpy")


@cache
def package_versions() -> dict[str, str]:
    """Versions of the packages that can change a score."""
    versions = {"python": platform.python_version(), "embharness": embharness.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


@cache
def git_state() -> dict[str, Any]:
    """The project's git sha and whether the tree had uncommitted changes (None outside git)."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status) if status is not None else None}


def _task_info(task: Any, entry: Any, cap: int | None, plans: dict[str, Any]) -> dict[str, Any]:
    metadata = task.metadata
    return {
        "name": metadata.name,
        "type": metadata.type,
        "dataset_revision": (metadata.dataset or {}).get("revision"),
        "splits": list(entry.splits or metadata.eval_splits),
        "max_samples": cap,
        "plans": plans,
    }


def _loaded_dtype(backend: Any) -> str | None:
    """The dtype of the loaded weights, read from the parameters (None if never loaded)."""
    return str(backend.get().dtype).removeprefix("torch.") if backend.loaded else None


def build_record(
    model: Any,
    entry: Any,
    task: Any,
    encoder: Any,
    backend: Any,
    dim: int,
    wall_s: float,
    main_score: float,
    cap: int | None,
) -> dict[str, Any]:
    """The run record of one cell (see results_store for where it is written)."""
    info = backend.info
    stats = encoder.stats
    return {
        "embharness_version": embharness.__version__,
        "git": git_state(),
        "model": {
            "name": info.name,
            "revision": info.revision,
            "dim": dim,
            "full_dim": info.embed_dim,
            "loader": info.loader,
            "pooling": info.pooling,
            "weights_path": model.spec.local_path,
            "weights_hash": info.weights_hash,
            "peft_adapter": info.peft_adapter,
            "code_repo": info.extra.get("code_repo"),
            "code_revision": info.extra.get("code_revision"),
            "flash_attn": info.extra.get("flash_attn"),
        },
        "task": _task_info(task, entry, cap, stats.plans),
        "settings": {
            "batch_size": encoder.engine.batch_size,
            "dtype": _loaded_dtype(backend) or info.dtype,
            "dtype_read_from": DTYPE_FROM_PARAMETERS if backend.loaded else DTYPE_FROM_KEY,
            "published_dtype": model.spec.dtype,
            "strip_whitespace": model.spec.strip_whitespace,
            "device": info.device,
            "max_length": encoder.max_length,
            "model_loaded": backend.loaded,
        },
        "versions": package_versions(),
        "timing": {
            "wall_s": round(wall_s, 3),
            "encode_s": round(stats.encode_s, 3),
            "score_s": round(max(wall_s - stats.encode_s, 0.0), 3),
        },
        "cache": {"hits": stats.hits, "misses": stats.misses},
        "truncated_texts": stats.truncated,
        "main_score": main_score,
    }
