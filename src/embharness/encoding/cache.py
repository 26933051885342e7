"""Content-addressed, on-disk embedding cache.

Layout: ``<root>/<ns[:2]>/<ns>/`` per namespace, where the namespace key hashes everything that
changes a vector except the text (model, revision, weights and peft hashes, side, prompt,
adapter, max length, pooling, dtype). Inside, append-only segments:

* ``<seg>.npy``   float32 (rows, full_dim) vectors, memory-mapped on read;
* ``<seg>.keys``  16-byte blake2b digests of the texts, one per row;
* ``<seg>.json``  manifest: rows, dim and sha256 of both files, written last.

Vectors are stored in float32, exactly as the model's pooled output was computed, so serving
from the cache changes no score. Every file is written atomically under a folder lock; a
segment whose checksum fails is quarantined, warned about and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embharness.atomic import atomic_write, atomic_write_json, folder_lock
from embharness.hashing import key_digest

log = logging.getLogger(__name__)
DIGEST_BYTES = 16


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Segment:
    """One verified segment: its digests and memory-mapped vectors."""

    keys: np.ndarray
    vectors: np.ndarray


class Namespace:
    """The cached vectors for one namespace key."""

    def __init__(self, folder: Path, key: dict[str, Any]) -> None:
        self.folder = folder
        self.key = key
        self._segments: dict[str, Segment] = {}
        self._index: dict[bytes, tuple[str, int]] = {}
        self.corrupt = 0

    def refresh(self) -> None:
        """Pick up segments written since the last look (by this or another process)."""
        for manifest in sorted(self.folder.glob("*.json")):
            seg_id = manifest.stem
            if seg_id == "namespace" or seg_id in self._segments:
                continue
            segment = self._verify(manifest)
            if segment is None:
                continue
            self._segments[seg_id] = segment
            for row, digest in enumerate(segment.keys):
                self._index.setdefault(bytes(digest), (seg_id, row))

    def _verify(self, manifest: Path) -> Segment | None:
        vec_path, key_path = manifest.with_suffix(".npy"), manifest.with_suffix(".keys")
        try:
            meta = json.loads(manifest.read_text())
            ok = (
                _sha256(vec_path) == meta["vectors_sha256"]
                and _sha256(key_path) == meta["keys_sha256"]
            )
        except (OSError, ValueError, KeyError):
            ok = False
        if not ok:
            self._quarantine(manifest)
            return None
        keys = np.fromfile(key_path, dtype=f"V{DIGEST_BYTES}")
        vectors = np.load(vec_path, mmap_mode="r")
        return Segment(keys, vectors)

    def _quarantine(self, manifest: Path) -> None:
        self.corrupt += 1
        log.warning(
            "corrupt cache segment %s: quarantined, its vectors will be recomputed",
            manifest.with_suffix(""),
        )
        bad = self.folder / "corrupt"
        bad.mkdir(exist_ok=True)
        for suffix in (".json", ".npy", ".keys"):
            path = manifest.with_suffix(suffix)
            if path.exists():
                path.replace(bad / path.name)

    def lookup(self, digests: list[bytes]) -> tuple[dict[int, np.ndarray], list[int]]:
        """Cached vectors by position, and the positions that missed."""
        self.refresh()
        found: dict[int, np.ndarray] = {}
        missing: list[int] = []
        for position, digest in enumerate(digests):
            hit = self._index.get(digest)
            if hit is None:
                missing.append(position)
            else:
                seg_id, row = hit
                found[position] = self._segments[seg_id].vectors[row]
        return found, missing

    def append(self, digests: list[bytes], vectors: np.ndarray) -> None:
        """Write one new segment atomically (vectors, keys, then the manifest)."""
        if not digests:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        seg_id = uuid.uuid4().hex
        vec_path = self.folder / f"{seg_id}.npy"
        key_path = self.folder / f"{seg_id}.keys"
        with folder_lock(self.folder):
            atomic_write(vec_path, lambda h: np.save(h, vectors), mode="wb")
            atomic_write(key_path, lambda h: h.write(b"".join(digests)), mode="wb")
            atomic_write_json(
                self.folder / f"{seg_id}.json",
                {
                    "rows": len(digests),
                    "dim": int(vectors.shape[1]),
                    "vectors_sha256": _sha256(vec_path),
                    "keys_sha256": _sha256(key_path),
                },
            )


class EmbeddingCache:
    """Namespaces of cached full-dim vectors under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[str, Namespace] = {}

    def namespace(self, key: dict[str, Any]) -> Namespace:
        """Open (creating if needed) the namespace for ``key``."""
        digest = key_digest(key)
        if digest not in self._open:
            folder = self.root / digest[:2] / digest
            if not (folder / "namespace.json").exists():
                folder.mkdir(parents=True, exist_ok=True)
                atomic_write_json(folder / "namespace.json", key)
            self._open[digest] = Namespace(folder, key)
        return self._open[digest]


def cache_summary(root: Path) -> list[dict[str, Any]]:
    """Size and row count of every namespace under ``root``."""
    rows = []
    for ns_file in sorted(root.glob("*/*/namespace.json")):
        folder = ns_file.parent
        manifests = [p for p in folder.glob("*.json") if p.name != "namespace.json"]
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        entries = sum(json.loads(p.read_text()).get("rows", 0) for p in manifests)
        rows.append(
            {
                "namespace": folder.name,
                "key": json.loads(ns_file.read_text()),
                "segments": len(manifests),
                "rows": entries,
                "bytes": size,
            }
        )
    return rows


def prune(root: Path, model: str | None = None) -> int:
    """Delete every namespace (or only ``model``'s); returns the bytes freed."""
    freed = 0
    for entry in cache_summary(root):
        if model is None or entry["key"].get("model", {}).get("name") == model:
            folder = root / entry["namespace"][:2] / entry["namespace"]
            with folder_lock(root):
                shutil.rmtree(folder)
            freed += entry["bytes"]
    return freed
