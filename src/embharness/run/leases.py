"""One lease file per (model, task) job in the shared results folder.

A worker that wants to run a job creates ``<results>/_embharness/leases/<key>.json`` with
``O_EXCL`` (atomic on local and NFS v3+ filesystems), naming its host, pid, job id and launcher,
and refreshes its ``heartbeat`` from a thread while the job runs. Another worker that finds a
live lease skips the job ("running elsewhere"). A lease is stale, and taken over, when its
heartbeat is older than the timeout, at once when its holder ran on this host and its pid is
gone, and at once for the job's own retry (a lease naming the retried job's id: Ray re-runs a
task under its id, a resubmitted SLURM job names the job it replaces). A finished job removes its
lease; a failed one leaves a failure file with the error's first line and the log path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embharness.atomic import atomic_write_json, pid_alive, write_error

DEFAULT_TIMEOUT_S = 120.0


def job_key(model: str, task: str) -> str:
    """The file stem of a (model, task) job's lease and failure files."""
    return hashlib.sha256(f"{model}\0{task}".encode()).hexdigest()[:16]


def lease_folder(results_dir: Path) -> Path:
    """Where the leases of a results folder live."""
    return Path(results_dir) / "_embharness" / "leases"


def failure_folder(results_dir: Path) -> Path:
    """Where the failure files of a results folder live."""
    return Path(results_dir) / "_embharness" / "failures"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def read_lease(results_dir: Path, model: str, task: str) -> dict[str, Any] | None:
    """The lease of a job, or None when nobody holds it."""
    return _read(lease_folder(results_dir) / f"{job_key(model, task)}.json")


def read_failure(results_dir: Path, model: str, task: str) -> dict[str, Any] | None:
    """The failure file of a job, or None when its last run did not fail."""
    return _read(failure_folder(results_dir) / f"{job_key(model, task)}.json")


def is_stale(lease: dict[str, Any], timeout_s: float, now: float | None = None) -> bool:
    """Whether a lease's holder is gone: its heartbeat stopped more than ``timeout_s`` ago, or
    it ran on this host and its process no longer exists."""
    beat = float(lease.get("heartbeat", 0.0))
    if (now if now is not None else time.time()) - beat > timeout_s:
        return True
    pid = lease.get("pid")
    return lease.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid)


@dataclass
class Lease:
    """A held lease; ``release`` (or leaving the ``with`` block) removes it."""

    path: Path
    payload: dict[str, Any]
    interval_s: float
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Lease:
        """Start the heartbeat thread."""
        self._thread = threading.Thread(target=self._beat, daemon=True, name="lease-heartbeat")
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.payload["heartbeat"] = time.time()
            # A transient shared-filesystem error: the next beat retries.
            with contextlib.suppress(OSError):
                atomic_write_json(self.path, self.payload)

    def release(self) -> None:
        """Stop the heartbeat and remove the lease file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        current = _read(self.path)
        if current is not None and current.get("token") == self.payload["token"]:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _payload(model: str, task: str, launcher: str, job_id: str | None) -> dict[str, Any]:
    now = time.time()
    return {
        "model": model,
        "task": task,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "job_id": job_id,
        "launcher": launcher,
        "started": now,
        "heartbeat": now,
        "token": f"{socket.gethostname()}-{os.getpid()}-{now}",
    }


def _create(path: Path, payload: dict[str, Any]) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:  # a full disk: leave no half-written lease behind
        path.unlink(missing_ok=True)
        raise write_error(path, exc) from exc
    return True


def acquire(
    results_dir: Path,
    model: str,
    task: str,
    launcher: str = "local",
    job_id: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retry_of: frozenset[str] = frozenset(),
) -> Lease | None:
    """Take the job's lease (taking over a stale one), or None when a live worker holds it.

    ``retry_of``: job ids this worker re-runs; their leases are taken over at once (their
    holder was killed, or the launcher would not have retried it).
    """
    folder = lease_folder(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_key(model, task)}.json"
    payload = _payload(model, task, launcher, job_id)
    for _ in range(3):
        if _create(path, payload):
            return Lease(path, payload, interval_s=max(timeout_s / 4, 0.05)).start()
        held = _read(path)
        retried = held is not None and held.get("job_id") in retry_of
        if held is not None and not retried and not is_stale(held, timeout_s):
            return None
        _take_over(path, held)
    return None


def _take_over(path: Path, held: dict[str, Any] | None) -> None:
    """Remove a stale (or unreadable) lease, once: a rename makes only one taker win."""
    grave = path.with_suffix(f".stale-{os.getpid()}-{time.time_ns()}")
    try:
        os.replace(path, grave)
    except FileNotFoundError:
        return
    moved = _read(grave)
    if held is not None and moved is not None and moved.get("token") != held.get("token"):
        # A fresh lease landed between our read and the rename: put it back.
        with contextlib.suppress(FileExistsError):
            os.link(grave, path)
    grave.unlink(missing_ok=True)


def write_failure(
    results_dir: Path, model: str, task: str, error: BaseException, log_path: str | None
) -> Path:
    """Record that a job failed: the error's first line, the log path, host and time."""
    folder = failure_folder(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_key(model, task)}.json"
    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    atomic_write_json(
        path,
        {
            "model": model,
            "task": task,
            "error": f"{type(error).__name__}: {first}",
            "log": log_path,
            "host": socket.gethostname(),
            "time": time.time(),
        },
    )
    return path


def clear_failure(results_dir: Path, model: str, task: str) -> None:
    """Forget an earlier failure of a job (it is being run again)."""
    (failure_folder(results_dir) / f"{job_key(model, task)}.json").unlink(missing_ok=True)
