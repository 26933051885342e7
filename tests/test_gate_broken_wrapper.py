"""The committed baseline catches a deliberately broken wrapper (CLS pooling swapped in)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from embharness.gate.gate import run_gate
from embharness.run import cells
from embharness.run.runner import RunOptions, SweepRunner
from embharness.run.sweep import load_sweep
from embharness.specs.registry import get_spec

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "results" / "baselines" / "offline.json"
TASK = "HumanEvalRetrievalOffline"


def run_gate_sweep_task(tmp_path: Path) -> list[str]:
    """Run the gate sweep's HumanEval cells into tmp_path and gate them; return the output."""
    sweep = load_sweep(ROOT / "evals" / "gate.yaml")
    sweep = replace(sweep, tasks=tuple(t for t in sweep.tasks if t.name == TASK))
    options = RunOptions(tmp_path / "results", tmp_path / "cache", show_progress=False)
    SweepRunner(sweep, options).run()
    lines: list[str] = []
    code = run_gate(
        tmp_path / "results", BASELINE, 0.5, None, allow_missing=True, echo=lines.append
    )
    return [str(code), *lines]


def test_the_intact_wrapper_passes_the_gate(tmp_path: Path) -> None:
    code, *lines = run_gate_sweep_task(tmp_path)
    assert code == "0", "\n".join(lines)
    assert (
        sum(TASK in line and line.startswith("ok") for line in "\n".join(lines).splitlines()) == 2
    )


@pytest.mark.parametrize("pooling", ["cls", "last_token"])
def test_gate_flags_a_broken_pooling(tmp_path: Path, monkeypatch, pooling: str) -> None:
    intact = get_spec("sentence-transformers/all-MiniLM-L6-v2")
    broken = replace(intact, loader="hf_auto", pooling=pooling)  # plain AutoModel, wrong pooling

    def broken_get_spec(name: str, **kwargs):
        return broken if name == intact.name else get_spec(name, **kwargs)

    monkeypatch.setattr(cells, "get_spec", broken_get_spec)
    code, *lines = run_gate_sweep_task(tmp_path)
    text = "\n".join(lines)
    assert code == "1", text
    regressed = [line for line in text.splitlines() if line.startswith("regressed")]
    assert len(regressed) == 2 and all(TASK in line for line in regressed)
    assert "FAIL" in text
