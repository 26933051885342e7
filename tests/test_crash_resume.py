"""kill -9 at random moments: the sweep resumes, finishes with the same scores, nothing partial."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from sweep_processes import (
    StderrWatch,
    assert_nothing_partial,
    assert_same_scores,
    run_here,
    scores,
    start_run,
)

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64, 384]
settings:
  batch_size: 16
tasks:
  - name: PythonStdlibDocstringRetrieval
    max_samples: 120
  - name: HumanEvalRetrievalOffline
    max_samples: 60
"""
RAN_A_CELL = ": main="  # the line a process prints when it has scored and written a cell


def _kill_round(sweep: Path, root: Path, rng: random.Random, after_a_cell: bool) -> bool:
    """Start the sweep and kill -9 it at a random moment; whether the kill landed mid-run.

    The first round kills during start-up or the first encode; later rounds wait for the
    process's first finished cell and kill within the next second: while it scores, writes
    results or the cache, or loads and encodes the next task.
    """
    proc = start_run(sweep, root)
    watch = StderrWatch(proc, RAN_A_CELL)
    if after_a_cell:
        watch.seen.wait(300)
        time.sleep(rng.uniform(0.0, 1.0))
    else:
        time.sleep(rng.uniform(4.0, 8.0))
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(60)
    if not killed:
        assert proc.returncode == 0, watch.text()[-2000:]
    return killed


def test_kill_9_loop_resumes_to_identical_scores(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    reference = tmp_path / "reference"
    run_here(sweep, reference)  # uninterrupted, in its own cache

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    rng = random.Random(20261122)
    kills = 0
    for after_a_cell in (False, True, True):
        kills += _kill_round(sweep, crashed, rng, after_a_cell)
        assert_nothing_partial(crashed)
    assert kills >= 2
    final = start_run(sweep, crashed)
    _, stderr = final.communicate(timeout=600)
    assert final.returncode == 0, stderr.decode()[-2000:]
    assert_nothing_partial(crashed)
    assert_same_scores(scores(reference / "results"), scores(crashed / "results"))
    assert len(scores(crashed / "results")) == 4


CONCURRENT_SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64, 384]
tasks:
  - name: HumanEvalRetrievalOffline
    max_samples: 60
  - name: PythonStdlibDocstringRetrieval
    max_samples: 60
"""


def test_two_concurrent_runs_share_cache_and_results(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(CONCURRENT_SWEEP)
    shared = tmp_path / "shared"
    shared.mkdir()
    first, second = start_run(sweep, shared), start_run(sweep, shared)
    for proc in (first, second):
        _, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr.decode()[-2000:]
    assert_nothing_partial(shared)
    alone = tmp_path / "alone"
    run_here(sweep, alone)
    assert_same_scores(scores(alone / "results"), scores(shared / "results"))
    assert len(scores(shared / "results")) == 4
