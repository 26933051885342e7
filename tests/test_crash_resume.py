"""kill -9 at random moments: the sweep resumes, finishes with the same scores, nothing partial."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from embharness.encoding.cache import EmbeddingCache

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


def start_run(sweep: Path, root: Path) -> subprocess.Popen:
    """Start the CLI sweep as its own process, as a user would."""
    exe = Path(sys.executable).parent / "embharness"
    args = [
        str(exe),
        "run",
        str(sweep),
        "--results-dir",
        str(root / "results"),
        "--cache-dir",
        str(root / "cache"),
        "--quiet",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root)


def scores(results: Path) -> dict[str, dict]:
    """Every result file's mteb scores, by path relative to the results folder."""
    return {
        str(p.relative_to(results)): json.loads(p.read_text())["scores"]
        for p in sorted(results.rglob("*.json"))
        if p.name != "model_meta.json" and "_embharness" not in p.parts
    }


def assert_same_scores(left: dict, right: dict) -> None:
    """Nested score dicts equal, floats to 1e-6."""
    assert type(left) is type(right)
    if isinstance(left, dict):
        assert left.keys() == right.keys()
        for key in left:
            assert_same_scores(left[key], right[key])
    elif isinstance(left, list):
        assert len(left) == len(right)
        for a, b in zip(left, right, strict=True):
            assert_same_scores(a, b)
    elif isinstance(left, float):
        assert (math.isnan(left) and math.isnan(right)) or abs(left - right) <= 1e-6
    else:
        assert left == right


def assert_nothing_partial(root: Path) -> None:
    """Every visible JSON parses and every cache segment verifies; no stray temp files."""
    for path in root.rglob("*.json"):
        json.loads(path.read_text())
    assert not list(root.rglob("*.tmp"))
    for ns_file in (root / "cache").glob("*/*/namespace.json"):
        namespace = EmbeddingCache(root / "cache").namespace(json.loads(ns_file.read_text()))
        namespace.refresh()
        assert namespace.corrupt == 0
        for segment in namespace._segments.values():
            assert np.isfinite(np.asarray(segment.vectors)).all()


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
