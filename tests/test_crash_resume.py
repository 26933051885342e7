"""kill -9 at random moments: the sweep resumes, finishes with the same scores, nothing partial."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest
from sweep_processes import assert_nothing_partial, assert_same_scores, scores, start_run

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64, 384]
settings:
  batch_size: 16
tasks:
  - name: PythonStdlibDocstringRetrieval
    max_samples: 300
  - name: HumanEvalRetrievalOffline
"""


def test_kill_9_loop_resumes_to_identical_scores(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    reference = tmp_path / "reference"
    reference.mkdir()
    done = start_run(sweep, reference)
    assert done.wait(600) == 0, done.stderr.read().decode()[-2000:]

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    rng = random.Random(20261122)
    kills = 0
    for _ in range(3):
        proc = start_run(sweep, crashed)
        time.sleep(rng.uniform(5.0, 15.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(60)
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
    alone.mkdir()
    solo = start_run(sweep, alone)
    assert solo.wait(600) == 0
    assert_same_scores(scores(alone / "results"), scores(shared / "results"))
    assert len(scores(shared / "results")) == 4
