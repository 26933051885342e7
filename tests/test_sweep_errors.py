"""Bad sweep files and bad CLI input give one clear line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from embharness.cli import main

GOOD = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64]
tasks:
  - HumanEvalRetrievalOffline
"""

BAD_SWEEPS = {
    "malformed_yaml": ("models: [a, b\ntasks: [", "not valid YAML"),
    "unknown_task": (
        GOOD.replace("HumanEvalRetrievalOffline", "HumanEvalRetrievalTypo"),
        "unknown task",
    ),
    "unknown_model": (GOOD.replace("all-MiniLM-L6-v2", "all-MiniLM-L6-v9"), "unknown model"),
    "bad_dim": (GOOD.replace("[64]", "[100]"), "cannot produce dim"),
    "unknown_key": (
        GOOD.replace("    dims: [64]", "    dims: [64]\n    pooling: cls"),
        "unknown key",
    ),
    "empty_models": ("models: []\ntasks: [HumanEvalRetrievalOffline]", "non-empty list"),
}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the installed CLI the way a user does."""
    exe = Path(sys.executable).parent / "embharness"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def run_in_process(*args: str) -> CliResult:
    """Run the CLI's entry point in this process (same code path, no interpreter start-up)."""
    result = CliRunner().invoke(main, list(args))
    return CliResult(result.exit_code, result.stderr)


@dataclass
class CliResult:
    """Exit code and stderr of a CLI call."""

    returncode: int
    stderr: str


@pytest.mark.parametrize("case", sorted(BAD_SWEEPS))
def test_bad_sweep_file_is_one_clear_line(case: str, tmp_path: Path) -> None:
    text, expected = BAD_SWEEPS[case]
    sweep = tmp_path / "bad.yaml"
    sweep.write_text(text)
    results = tmp_path / "results"
    marker = results / "keep.json"
    marker.parent.mkdir()
    marker.write_text("{}")
    done = run_in_process("run", str(sweep), "--results-dir", str(results))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "fix:" in lines[0]
    assert "Traceback" not in done.stderr
    assert marker.read_text() == "{}"
    assert sorted(p.name for p in results.iterdir()) == ["keep.json"]


def test_bad_dims_flag(tmp_path: Path) -> None:
    sweep = tmp_path / "ok.yaml"
    sweep.write_text(GOOD)
    done = run_in_process("run", str(sweep), "--dims", "64,abc")
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --dims must be integers")


def test_unwritable_results_folder(tmp_path: Path) -> None:
    sweep = tmp_path / "ok.yaml"
    sweep.write_text(GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = run_cli("run", str(sweep), "--results-dir", str(blocker / "results"), cwd=tmp_path)
    assert done.returncode == 2
    assert "not writable" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_main_job_without_hub_fails_fast_with_one_line(tmp_path: Path) -> None:
    """`make eval` (evals/jina.yaml) here: no hub, no local weights → one line, no files."""
    sweep = Path(__file__).resolve().parents[1] / "evals" / "jina.yaml"
    results = tmp_path / "results"
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "embharness"),
            "run",
            str(sweep),
            "--results-dir",
            str(results),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "jinaai/jina-code-embeddings-0.5b" in lines[0]
    assert "hub is unreachable" in lines[0] and "evals/offline.yaml" in lines[0]
    assert not results.exists() or not any(results.rglob("*.json"))
