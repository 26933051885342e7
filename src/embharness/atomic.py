"""Crash-safe file writes and inter-process locks."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock

from embharness.errors import HarnessError

TMP_SUFFIX = ".tmp"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temp_files(root: Path) -> int:
    """Remove temp files left by writers that died (e.g. ``kill -9``); returns how many."""
    removed = 0
    for tmp in root.rglob(f".*{TMP_SUFFIX}") if root.exists() else []:
        parts = tmp.name.rsplit(".", 3)
        pid = int(parts[-3]) if len(parts) == 4 and parts[-3].isdigit() else None
        if pid is not None and not pid_alive(pid):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def write_error(path: Path, exc: OSError) -> HarnessError:
    """The one-line error of a failed write (a full disk, a read-only folder)."""
    return HarnessError(
        f"could not write {path}: {exc.strerror or exc}",
        "free disk space or choose a writable folder; earlier results are untouched",
    )


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; once filled, fsync it and rename it over ``path``.

    A reader never sees a partial file; on any failure the old file (if any) stays intact.
    """
    try:  # a file where a folder must go, a read-only or full folder
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=path.parent
        )
    except OSError as exc:
        raise write_error(path, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Atomically write ``path`` by calling ``write`` on an open handle to a temp file."""
    encoding = None if "b" in mode else "utf-8"
    with _replacing(path) as tmp, tmp.open(mode, encoding=encoding) as handle:
        write(handle)


def atomic_write_file(path: Path, produce: Callable[[Path], None]) -> None:
    """Atomically write ``path`` by letting ``produce`` write a temp file given its path."""
    with _replacing(path) as tmp:
        produce(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically write a text file."""
    atomic_write(path, lambda handle: handle.write(text))


def atomic_write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    atomic_write_text(path, json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def folder_lock(folder: Path, timeout: float = -1) -> Iterator[None]:
    """Hold an inter-process lock on ``folder`` (a ``.lock`` file inside it)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HarnessError(
            f"folder {folder} is not writable: {exc.strerror or exc}",
            "pass a writable folder (for example --results-dir) or fix its permissions",
        ) from exc
    with FileLock(str(folder / ".lock"), timeout=timeout):
        yield
