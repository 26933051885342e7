"""Leases per (model, task) job: exclusive, refreshed by a heartbeat, stale ones taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from embharness.run.leases import (
    acquire,
    clear_failure,
    is_stale,
    lease_folder,
    read_failure,
    read_lease,
    write_failure,
)


def test_a_live_lease_excludes_a_second_worker_until_released(tmp_path: Path) -> None:
    lease = acquire(tmp_path, "m", "t", "ray", "job-1", timeout_s=60)
    assert lease is not None
    held = read_lease(tmp_path, "m", "t")
    assert held is not None and held["pid"] == os.getpid() and held["job_id"] == "job-1"
    assert acquire(tmp_path, "m", "t", timeout_s=60) is None
    assert acquire(tmp_path, "m", "other-task", timeout_s=60) is not None  # other job: free
    lease.release()
    assert read_lease(tmp_path, "m", "t") is None
    again = acquire(tmp_path, "m", "t", timeout_s=60)
    assert again is not None
    again.release()


def test_the_heartbeat_keeps_a_lease_fresh(tmp_path: Path) -> None:
    with acquire(tmp_path, "m", "t", timeout_s=0.4) as lease:  # type: ignore[union-attr]
        first = lease.payload["started"]
        deadline = time.time() + 10
        while read_lease(tmp_path, "m", "t")["heartbeat"] == first:  # type: ignore[index]
            assert time.time() < deadline, "no heartbeat written"
            time.sleep(0.05)
        assert acquire(tmp_path, "m", "t", timeout_s=0.4) is None


def test_a_stale_lease_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.Popen(["sleep", "30"])
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    folder = lease_folder(tmp_path)
    folder.mkdir(parents=True)
    lease = acquire(tmp_path, "m", "t", timeout_s=60)
    assert lease is not None
    lease._stop.set()  # simulate the kill: the heartbeat stops, the file stays
    assert lease._thread is not None
    lease._thread.join()
    # A worker on another host: only its heartbeat can say it died.
    stale = {**lease.payload, "host": "elsewhere", "pid": dead.pid, "heartbeat": time.time() - 1.0}
    lease.path.write_text(json.dumps(stale))
    assert acquire(tmp_path, "m", "t", timeout_s=60) is None  # 1 s old: still live at 60 s
    assert is_stale(stale, timeout_s=0.5)
    taken = acquire(tmp_path, "m", "t", "slurm", "job-2", timeout_s=0.5)
    assert taken is not None
    now = read_lease(tmp_path, "m", "t")
    assert now is not None and now["pid"] == os.getpid() and now["job_id"] == "job-2"
    taken.release()
    assert list(folder.iterdir()) == []  # no stale copy left behind


def test_a_failure_file_keeps_the_first_error_line_and_log(tmp_path: Path) -> None:
    write_failure(tmp_path, "m", "t", ValueError("bad vector\nmore detail"), "/logs/1.err")
    failure = read_failure(tmp_path, "m", "t")
    assert failure is not None
    assert failure["error"] == "ValueError: bad vector" and failure["log"] == "/logs/1.err"
    clear_failure(tmp_path, "m", "t")
    assert read_failure(tmp_path, "m", "t") is None


def _held_by(tmp_path: Path, **fields: object) -> Path:
    lease = acquire(tmp_path, "m", "t", timeout_s=60)
    assert lease is not None
    lease._stop.set()
    assert lease._thread is not None
    lease._thread.join()
    lease.path.write_text(json.dumps({**lease.payload, **fields}))
    return lease.path


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    dead = subprocess.Popen(["sleep", "30"])
    dead.send_signal(signal.SIGKILL)
    dead.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        path = _held_by(tmp_path, pid=alive.pid)
        assert acquire(tmp_path, "m", "t", timeout_s=60) is None  # its holder still runs
        path.write_text(json.dumps({**json.loads(path.read_text()), "pid": dead.pid}))
        taken = acquire(tmp_path, "m", "t", timeout_s=60)  # heartbeat fresh, holder gone
        assert taken is not None
        assert read_lease(tmp_path, "m", "t")["pid"] == os.getpid()  # type: ignore[index]
        taken.release()
    finally:
        alive.kill()
        alive.wait()


def test_a_retry_takes_over_the_lease_of_the_job_it_replaces(tmp_path: Path) -> None:
    _held_by(tmp_path, host="elsewhere", job_id="42_0")  # fresh heartbeat, another host
    assert acquire(tmp_path, "m", "t", "slurm", "43_0", timeout_s=60) is None
    taken = acquire(tmp_path, "m", "t", "slurm", "43_0", 60, retry_of=frozenset({"42_0"}))
    assert taken is not None
    assert read_lease(tmp_path, "m", "t")["job_id"] == "43_0"  # type: ignore[index]
    taken.release()


LOCAL_SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64]
tasks:
  - name: HumanEvalRetrievalOffline
    max_samples: 10
"""


def test_a_local_run_leaves_a_job_leased_elsewhere_to_its_holder(tmp_path: Path) -> None:
    from embharness.run.options import RunOptions
    from embharness.run.runner import SweepRunner
    from embharness.run.sweep import load_sweep

    (tmp_path / "sweep.yaml").write_text(LOCAL_SWEEP)
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    model, task = "sentence-transformers/all-MiniLM-L6-v2", "HumanEvalRetrievalOffline"
    held = acquire(tmp_path / "results", model, task, "ray", "task-1", timeout_s=60)
    assert held is not None
    first = SweepRunner(load_sweep(tmp_path / "sweep.yaml"), options).run()
    assert [o.status for o in first] == ["running elsewhere"]
    assert not list((tmp_path / "results").rglob("HumanEvalRetrievalOffline.json"))
    held.release()
    second = SweepRunner(load_sweep(tmp_path / "sweep.yaml"), options).run()
    assert [o.status for o in second] == ["ran"]
    assert read_lease(tmp_path / "results", model, task) is None  # released when done
