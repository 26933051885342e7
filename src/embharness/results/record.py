"""Self-describing run records: versions, git state, settings, prompts, timings."""

from __future__ import annotations

import platform
import socket
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import embharness
from embharness.encoding.bridge import EncodeStats
from embharness.models.backend import BackendInfo
from embharness.results.per_query import PerItemScores
from embharness.results.schema import (
    SCHEMA_VERSION,
    GitState,
    LaunchSection,
    ModelSection,
    PerItemSection,
    RunRecord,
    SettingsSection,
    TaskSection,
)
from embharness.results.store import ITEMS_SUFFIX
from embharness.specs.spec import ModelSpec

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

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
def git_state() -> GitState:
    """The project's git sha and whether the tree had uncommitted changes (None outside git)."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status) if status is not None else None}


@dataclass(frozen=True)
class CellFacts:
    """Everything a run record is built from, typed (the runner fills it in)."""

    spec: ModelSpec
    info: BackendInfo
    task: AbsTask
    splits: list[str]
    max_samples: int | None
    dim: int
    stats: EncodeStats
    batch_size: int
    max_batch_tokens: int | None
    max_length: int
    loaded_dtype: str | None
    wall_s: float
    main_score: float
    search: str | None = None
    items: PerItemScores | None = None
    precision: str = "float32"
    rescore_top_k: int | None = None
    launcher: str = "local"
    job_id: str | None = None
    process: str = "runner"  # or "score_worker" (run.score_pool)
    parts: int = 1  # processes that scored the cell, a group of its subsets each (run.cell_parts)


def _per_item_section(facts: CellFacts) -> PerItemSection:
    items = facts.items
    if items is None:
        return {"file": None, "unit": None, "statistic": None, "n_items": None, "reason": None}
    if not items.available:
        return {"file": None, "unit": None, "statistic": None, "n_items": 0, "reason": items.reason}
    return {
        "file": f"{facts.task.metadata.name}{ITEMS_SUFFIX}",
        "unit": items.unit,
        "statistic": items.statistic(),
        "n_items": items.n_items,
        "reason": None,
    }


def _model_section(facts: CellFacts) -> ModelSection:
    info = facts.info
    return {
        "name": info.name,
        "revision": info.revision,
        "dim": facts.dim,
        "full_dim": info.embed_dim,
        "loader": info.loader,
        "pooling": info.pooling,
        "weights_path": facts.spec.local_path,
        "weights_hash": info.weights_hash,
        "peft_adapter": info.peft_adapter,
        "code_repo": info.extra.get("code_repo"),
        "code_revision": info.extra.get("code_revision"),
        "flash_attn": info.extra.get("flash_attn"),
        "attn_implementation": info.attn_implementation,
        "packed": info.packed,
    }


def _task_section(facts: CellFacts) -> TaskSection:
    metadata = facts.task.metadata
    return {
        "name": metadata.name,
        "type": metadata.type,
        "dataset_revision": (metadata.dataset or {}).get("revision"),
        "splits": facts.splits,
        "max_samples": facts.max_samples,
        "plans": facts.stats.plans,
    }


def _settings_section(facts: CellFacts) -> SettingsSection:
    loaded = facts.loaded_dtype is not None
    return {
        "batch_size": facts.batch_size,
        "effective_batch_size": facts.stats.effective_batch_size,
        "max_batch_tokens": facts.max_batch_tokens,
        "effective_max_batch_tokens": facts.stats.effective_max_batch_tokens,
        "oom_retries": facts.stats.oom_retries,
        "dtype": facts.loaded_dtype or facts.info.dtype,
        "dtype_read_from": DTYPE_FROM_PARAMETERS if loaded else DTYPE_FROM_KEY,
        "published_dtype": facts.spec.dtype,
        "strip_whitespace": facts.spec.strip_whitespace,
        "device": facts.info.device,
        "max_length": facts.max_length,
        "model_loaded": loaded,
        "search": facts.search,
        "precision": facts.precision,
        "rescore_top_k": facts.rescore_top_k,
    }


def _launch_section(facts: CellFacts) -> LaunchSection:
    return {
        "launcher": facts.launcher,
        "job_id": facts.job_id,
        "host": socket.gethostname(),
        "process": facts.process,
        "parts": facts.parts,
    }


def build_record(facts: CellFacts) -> RunRecord:
    """The run record of one cell (``results.schema`` documents it; the store writes it)."""
    stats, wall = facts.stats, facts.wall_s
    return {
        "schema_version": SCHEMA_VERSION,
        "embharness_version": embharness.__version__,
        "git": git_state(),
        "model": _model_section(facts),
        "task": _task_section(facts),
        "settings": _settings_section(facts),
        "versions": package_versions(),
        "timing": {
            "wall_s": round(wall, 3),
            "encode_s": round(stats.encode_s, 3),
            "score_s": round(max(wall - stats.encode_s, 0.0), 3),
        },
        "cache": {"hits": stats.hits, "misses": stats.misses},
        "truncated_texts": stats.truncated,
        "main_score": facts.main_score,
        "per_item": _per_item_section(facts),
        "launch": _launch_section(facts),
        "two_stage": None,
    }
