"""Content hashes for texts, folders and cache keys."""

from __future__ import annotations

import functools
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


def _listing(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and content under ``folder`` (sorted).

    Memoised per process on (path, sizes, mtimes), so a large local checkpoint is hashed once.
    """
    folder = folder.resolve()
    files = _listing(folder)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _digest_files(folder, stamp)


@functools.lru_cache(maxsize=64)
def _digest_files(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        path = Path(name)
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()
