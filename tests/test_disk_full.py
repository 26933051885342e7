"""A full disk at write time: one clear line, non-zero exit, earlier results and cache intact."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from click.testing import CliRunner

from embharness import atomic
from embharness.cli import main

SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [64]
tasks:
  - name: HumanEvalRetrievalOffline
    max_samples: 20
"""


def run(tmp_path: Path, *extra: str):
    """The CLI in-process on the small sweep."""
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    args = [
        "run",
        str(sweep),
        "--results-dir",
        str(tmp_path / "results"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--quiet",
        *extra,
    ]
    return CliRunner().invoke(main, args)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under root (locks aside)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


def no_space(*_args, **_kwargs):
    """Simulates the disk filling up: fsync fails the way a full disk makes it fail."""
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("cache_state", ["warm", "cold"])
def test_full_disk_keeps_results_and_cache_intact(
    tmp_path: Path, monkeypatch, cache_state: str
) -> None:
    assert run(tmp_path).exit_code == 0
    if cache_state == "cold":  # the first write to fail is then a cache segment
        for path in (tmp_path / "cache").rglob("*"):
            if path.is_file():
                path.unlink()
    before = snapshot(tmp_path)
    monkeypatch.setattr(atomic.os, "fsync", no_space)
    result = run(tmp_path, "--overwrite", "always")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "fix:" in lines[0]
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before
    assert not list(tmp_path.rglob("*.tmp"))


def test_not_a_peft_adapter_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "--adapter", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.count("error:") == 1 and "not a peft adapter folder" in result.stderr
