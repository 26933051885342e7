"""An on-disk cache for task data the harness builds from local files (the stdlib tasks).

Building a stdlib task parses some 600 source files (3 to 4 s), and every process that runs
the task (a launcher's worker, a resumed run) built it again. The cache key names every
input: the builders' own sources, the Python version, and the path, size and mtime of each
input file, so an edited builder, another interpreter or a changed file builds afresh.
Files live under ``<cache root>/tasks/`` (``embharness.paths``), written atomically
(``embharness.atomic``; a temp file a killed writer left is removed by the next writer); an
unreadable file is rebuilt and replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from embharness.atomic import atomic_write_json, clean_stale_temp_files
from embharness.errors import HarnessError
from embharness.paths import cache_root

Rows = list[Any]  # JSON: lists of strings (and lists of them)


def _cache_key(name: str, builders: Iterable[Path], inputs: Iterable[Path]) -> str:
    """A digest of ``name``, the builders' sources, the Python version and every input's stat."""
    digest = hashlib.sha256(f"{name}\0{platform.python_version()}\0".encode())
    for builder in builders:
        digest.update(builder.read_bytes())
    for path in inputs:
        stat = path.stat()
        digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def cached_rows(
    name: str, builders: Iterable[Path], inputs: Iterable[Path], build: Callable[[], Rows]
) -> Rows:
    """The rows stored for ``name`` under the key of ``builders`` (source files) and
    ``inputs`` (data files), else ``build()``'s rows, stored for next time."""
    folder = cache_root() / "tasks"
    path = folder / f"{name}-{_cache_key(name, builders, inputs)}.json"
    try:
        rows: Rows = json.loads(path.read_text(encoding="utf-8"))
        return rows
    except (OSError, ValueError):
        pass
    rows = build()
    clean_stale_temp_files(folder)  # left by a writer killed mid-write
    with contextlib.suppress(HarnessError):  # a read-only cache: built every time, as before
        atomic_write_json(path, rows)
    return rows
