"""Fail fast when weights or datasets are neither cached locally nor reachable on the hub."""

from __future__ import annotations

import os
import socket
from functools import cache

from embharness.errors import HarnessError

HUB_HOST = "huggingface.co"
OFFLINE_FIX = (
    "run where the Hugging Face hub is reachable, point `path:`/--from at a local copy, "
    "or run offline: make eval SWEEP=evals/offline.yaml"
)


@cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub answers a TCP connection (False when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_locally(repo_id: str, revision: str | None, repo_type: str) -> bool:
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir()
    except Exception:
        return False
    for repo in info.repos:
        if repo.repo_id == repo_id and repo.repo_type == repo_type:
            return revision is None or any(r.commit_hash == revision for r in repo.revisions)
    return False


def ensure_available(repo_id: str, revision: str | None, repo_type: str = "model") -> None:
    """Raise one clear line when ``repo_id`` can be had neither from the cache nor the hub."""
    if _cached_locally(repo_id, revision, repo_type) or hub_reachable():
        return
    what = "weights" if repo_type == "model" else "dataset"
    raise HarnessError(
        f"{what} for {repo_id}@{revision or 'unpinned'} are not in the local Hugging Face cache "
        "and the hub is unreachable",
        OFFLINE_FIX,
    )
