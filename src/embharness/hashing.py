"""Content hashes for texts, folders and cache keys."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def text_digest(text: str) -> bytes:
    """A 16-byte digest of one text (the cache's per-row key)."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def key_digest(payload: dict[str, Any]) -> str:
    """A stable hex digest of a JSON-serialisable key."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and content under ``folder`` (sorted)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
