"""What ``embharness run`` prints on a log and on a terminal, and where the HF caches live."""

from __future__ import annotations

import fcntl
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from embharness.paths import configure_environment
from embharness.run.console import configure_console

pytestmark = pytest.mark.slow_file  # whole sweeps, some in subprocesses: scheduled first (conftest)

SWEEP = """
models:
  - name: sentence-transformers/all-MiniLM-L6-v2
    dims: [384]
tasks:
  - {name: ManpagesBitextMining, max_samples: 20}
  - {name: HumanEvalRetrievalOffline, max_samples: 20}
"""
MTEB_NOISE = (
    "Searching corpus chunks",
    "Standardizing text corpus format",
    "Matching sentences",
    "UserWarning",
)
CELL_LINES = (
    "[cell 1/2] sentence-transformers/all-MiniLM-L6-v2 × ManpagesBitextMining @ 384: main=",
    "[cell 2/2] sentence-transformers/all-MiniLM-L6-v2 × HumanEvalRetrievalOffline @ 384: main=",
)
HF_CACHE_VARS = ("HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "MTEB_CACHE")


@pytest.fixture(scope="module")
def shared_vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedding cache for the log runs: a second run scores from it without the model."""
    return tmp_path_factory.mktemp("vectors")


def run_args(tmp_path: Path, vectors: Path, *flags: str) -> list[str]:
    """The installed CLI on the tiny sweep, its results inside tmp_path."""
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(SWEEP)
    exe = Path(sys.executable).parent / "embharness"
    folders = ["--results-dir", str(tmp_path / "results"), "--cache-dir", str(vectors)]
    return [str(exe), "run", str(sweep), *folders, *flags]


def run_to_log(tmp_path: Path, vectors: Path, *flags: str) -> str:
    """Run with stderr to a pipe, as ``make eval > log 2>&1`` does; returns stderr."""
    done = subprocess.run(
        run_args(tmp_path, vectors, *flags),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def run_on_terminal(tmp_path: Path, *flags: str) -> str:
    """Run with stderr on a 150-column pseudo-terminal and a fresh cache; returns the screen."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
    process = subprocess.Popen(
        run_args(tmp_path, tmp_path / "vectors", *flags),
        stdout=subprocess.DEVNULL,
        stderr=follower,
        cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        try:
            chunk = os.read(leader, 65536) if ready else b""
        except OSError:  # the follower side closed: the process is gone
            chunk = b""
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=300) == 0
    return b"".join(chunks).decode(errors="replace")


def test_log_shows_one_line_per_cell_and_no_library_noise(
    tmp_path: Path, shared_vectors: Path
) -> None:
    stderr = run_to_log(tmp_path, shared_vectors)
    for line in CELL_LINES:
        assert line in stderr
    for noise in MTEB_NOISE:
        assert noise not in stderr, noise
    assert "\r" not in stderr  # no progress bar redraws, ours or anyone's
    assert "You're using a" not in stderr  # transformers' pad advice
    assert len(stderr.strip().splitlines()) == len(CELL_LINES), stderr


def test_verbose_lets_mteb_bars_warnings_and_logs_through(
    tmp_path: Path, shared_vectors: Path
) -> None:
    stderr = run_to_log(tmp_path, shared_vectors, "--verbose", "--tasks", "ManpagesBitextMining")
    assert CELL_LINES[0].replace("1/2", "1/1") in stderr
    assert "Matching sentences" in stderr  # mteb's bitext bar, drawn on every subset
    assert "UserWarning: To copy construct from a tensor" in stderr
    assert "mteb.evaluate: ✓ Finished evaluation for ManpagesBitextMining" in stderr


def test_terminal_shows_one_bar_per_cell_and_none_of_mtebs(tmp_path: Path) -> None:
    screen = run_on_terminal(tmp_path, "--tasks", "HumanEvalRetrievalOffline")
    # One bar for the whole cell (queries and documents together), not one per encode call.
    # A redrawn bar stays on one terminal line (``\r`` redraws, no newline in between).
    label = "cell 1/1 HumanEvalRetrievalOffline@384:"
    bar_lines = [line for line in screen.split("\n") if label in line]
    assert len(bar_lines) == 1, screen
    assert bar_lines[0].rstrip().endswith("text/s]") and "60/60" in bar_lines[0]
    assert "@384 query" not in screen and "@384 document" not in screen
    for noise in MTEB_NOISE:
        assert noise not in screen, noise
    assert CELL_LINES[1].replace("2/2", "1/1") in screen


@pytest.mark.parametrize("name", HF_CACHE_VARS)
def test_configure_environment_leaves_caches_unset(name: str, monkeypatch) -> None:
    monkeypatch.delenv(name, raising=False)
    configure_environment()
    assert name not in os.environ


@pytest.mark.parametrize("name", HF_CACHE_VARS)
def test_configure_environment_keeps_the_users_caches(
    name: str, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(name, str(tmp_path / "mine"))
    configure_environment()
    assert os.environ[name] == str(tmp_path / "mine")


def test_configure_console_can_be_undone_by_a_later_call() -> None:
    import datasets
    import mteb._evaluators.text.bitext_mining_evaluator as bitext

    original = bitext.tqdm
    try:
        assert configure_console(verbose=False, quiet=False, is_tty=True) is True
        assert bitext.tqdm is not original and datasets.are_progress_bars_disabled()
        assert configure_console(verbose=True, quiet=False, is_tty=False) is False
        assert bitext.tqdm is original and not datasets.are_progress_bars_disabled()
        assert configure_console(verbose=True, quiet=True, is_tty=True) is False
        assert bitext.tqdm is not original
    finally:
        configure_console(verbose=False, quiet=False, is_tty=False)
        logging.getLogger("mteb").setLevel(logging.NOTSET)
