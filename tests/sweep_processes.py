"""Sweeps as their own processes, as a user starts them, and checks of the tree they leave."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from embharness.encoding.cache import EmbeddingCache


def start_run(sweep: Path, root: Path, *extra: str) -> subprocess.Popen:
    """Start the CLI sweep as its own process, as a user would (results and cache in root)."""
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
        *extra,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=root)


def run_here(sweep: Path, root: Path) -> None:
    """The same sweep run uninterrupted in this process, laid out as ``start_run`` lays it."""
    from embharness.run.options import RunOptions
    from embharness.run.runner import SweepRunner
    from embharness.run.sweep import load_sweep

    options = RunOptions(root / "results", root / "cache", show_progress=False)
    SweepRunner(load_sweep(sweep), options).run()


class StderrWatch:
    """Drains a process's stderr on a thread and says when a line containing ``marker`` came."""

    def __init__(self, proc: subprocess.Popen, marker: str) -> None:
        self.seen = threading.Event()
        self.lines: list[str] = []
        self._marker = marker
        self._thread = threading.Thread(target=self._drain, args=(proc,), daemon=True)
        self._thread.start()

    def _drain(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if self._marker in line:
                self.seen.set()

    def text(self) -> str:
        """Everything read so far (all of it once the process has ended and been joined)."""
        self._thread.join(timeout=5)
        return "".join(self.lines)


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
