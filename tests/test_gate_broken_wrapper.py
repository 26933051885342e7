"""The committed baseline catches a deliberately broken wrapper (CLS pooling swapped in) in both
gate modes, and the intact wrapper passes both."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from embharness.gate.gate import REGRESSED, SIGNIFICANCE, TOLERANCE, WITHIN_NOISE, run_gate
from embharness.run import cells
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import load_sweep
from embharness.specs.registry import get_spec

ROOT = Path(__file__).resolve().parents[1]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"  # a baseline per Python (stdlib task)
BASELINE = ROOT / "results" / "baselines" / f"offline-py{PYTHON}.json"
TASK = "HumanEvalRetrievalOffline"
RESAMPLES = 2000  # plenty for 2 cells: Holm's smallest reachable p is 2 × 2 / 2001


def run_gate_sweep_task(tmp_path: Path, dims: tuple[int, ...] | None = None) -> Path:
    """Run the gate sweep's HumanEval cells (all its dims unless ``dims``) into tmp_path."""
    sweep = load_sweep(ROOT / "evals" / "gate.yaml")
    sweep = replace(sweep, tasks=tuple(t for t in sweep.tasks if t.name == TASK))
    if dims is not None:
        sweep = replace(sweep, models=tuple(replace(m, dims=dims) for m in sweep.models))
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    SweepRunner(sweep, options).run()
    return tmp_path / "results"


def gate_lines(results: Path, mode: str, tolerance: float = 0.5) -> list[str]:
    """Gate ``results`` against the committed baseline; the exit code, then the output."""
    lines: list[str] = []
    code = run_gate(
        results, BASELINE, tolerance, None, allow_missing=True, echo=lines.append,
        mode=mode, n_resamples=RESAMPLES,
    )  # fmt: skip
    return [str(code), *"\n".join(lines).splitlines()]


def task_lines(lines: list[str]) -> list[str]:
    return [line for line in lines[1:] if f"  {TASK}  " in line]


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_gate_sweep_task(tmp_path_factory.mktemp("intact"))


@pytest.mark.parametrize(
    ("mode", "verdict"), [(TOLERANCE, "within tolerance"), (SIGNIFICANCE, WITHIN_NOISE)]
)
def test_the_intact_wrapper_passes_the_gate(intact: Path, mode: str, verdict: str) -> None:
    code, *lines = gate_lines(intact, mode)
    assert code == "0", "\n".join(lines)
    rows = task_lines([code, *lines])
    assert len(rows) == 2 and all(row.startswith(verdict) for row in rows)
    if mode == SIGNIFICANCE:  # the same vectors: Δ 0 on every query, p 1
        assert all("+0.00  [+0.00, +0.00]  1.0000  1.0000" in row for row in rows)


@pytest.mark.parametrize("pooling", ["cls", "last_token"])
def test_gate_flags_a_broken_pooling_in_both_modes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pooling: str
) -> None:
    intact_spec = get_spec("sentence-transformers/all-MiniLM-L6-v2")
    broken = replace(intact_spec, loader="hf_auto", pooling=pooling)  # plain AutoModel

    def broken_get_spec(name: str, **kwargs):
        return broken if name == intact_spec.name else get_spec(name, **kwargs)

    monkeypatch.setattr(cells, "get_spec", broken_get_spec)
    results = run_gate_sweep_task(tmp_path)
    for mode in (TOLERANCE, SIGNIFICANCE):
        lines = gate_lines(results, mode)
        text = "\n".join(lines)
        assert lines[0] == "1", text
        regressed = [line for line in task_lines(lines) if line.startswith(REGRESSED)]
        assert len(regressed) == 2, text
        assert lines[-1].startswith("gate: FAIL — 2 regressed"), text
        holm_p = [float(line.split("]")[1].split()[1]) for line in regressed]
        assert all(p <= 0.05 for p in holm_p), text
