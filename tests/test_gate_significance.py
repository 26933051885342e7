"""A real change within HumanEval's noise: it fails a tiny tolerance, and significance mode
passes it.

The change: MiniLM's max length cut from 256 to 128 tokens (the spec's default, so the cell
keeps its identity and experiment folder), which truncates a few long queries and solutions and
moves a handful of HumanEval's 164 per-query nDCG@10 values: a real run with the real backend,
compared with the committed baseline's per-item scores.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_gate_broken_wrapper import BASELINE, TASK, gate_lines, run_gate_sweep_task, task_lines

from embharness.gate.gate import REGRESSED, SIGNIFICANCE, TOLERANCE, WITHIN_NOISE
from embharness.run import cells
from embharness.specs.registry import get_spec

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TINY = 0.05  # points


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gate sweep's full-dimension HumanEval cell, run at max length 128."""
    spec = replace(get_spec(MINILM), default_max_length=128)

    def shorter(name: str, **kwargs):
        return spec if name == MINILM else get_spec(name, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cells, "get_spec", shorter)
        return run_gate_sweep_task(tmp_path_factory.mktemp("max128"), dims=(384,))


def _default_cell(results: Path) -> tuple[Path, dict]:
    (folder,) = (results / MINILM.replace("/", "__")).iterdir()
    return folder, json.loads((folder / f"{TASK}.json").read_text())


def test_the_change_is_real_and_smaller_than_the_tolerance(truncated: Path) -> None:
    folder, result = _default_cell(truncated)
    record = json.loads((folder / "_embharness" / f"{TASK}.json").read_text())
    assert record["settings"]["max_length"] == 128
    assert not (folder / "experiments").exists()  # same cell identity as the baseline's
    now = result["scores"]["test"][0]["main_score"]
    data = json.loads(BASELINE.read_text())
    (base,) = [c for c in data["cells"] if c["task"] == TASK and c["experiment"] is None]
    assert TINY < abs(now - base["score"]) * 100 < 0.5
    ours = pd.read_parquet(folder / "_embharness" / f"{TASK}.items.parquet")
    theirs = pd.read_parquet(BASELINE.parent / base["per_item"]["file"])
    assert list(ours["item_id"]) == list(theirs["item_id"])
    moved = int(np.sum(ours["ndcg_at_10"].to_numpy() != theirs["ndcg_at_10"].to_numpy()))
    assert 0 < moved < 20  # a handful of the 164 queries
    assert ours["ndcg_at_10"].mean() == pytest.approx(now, abs=1e-5)


def present(lines: list[str]) -> list[str]:
    """The gated HumanEval rows (the baseline's other cells were not run: missing)."""
    return [row for row in task_lines(["", *lines]) if not row.startswith("missing")]


def test_a_tiny_tolerance_fails_it(truncated: Path) -> None:
    code, *lines = gate_lines(truncated, TOLERANCE, tolerance=TINY)
    (row,) = present(lines)
    assert code == "1" and row.startswith(REGRESSED), "\n".join(lines)
    assert row.endswith("beyond tolerance, not significant at 0.05")


def test_significance_mode_passes_it(truncated: Path) -> None:
    code, *lines = gate_lines(truncated, SIGNIFICANCE, tolerance=TINY)
    (row,) = present(lines)
    assert code == "0" and row.startswith(WITHIN_NOISE), "\n".join(lines)
    p_holm = float(row.split("]")[1].split()[1])
    low, high = (float(x) for x in row.split("[")[1].split("]")[0].split(", "))
    assert p_holm > 0.05 and low < 0 < high
    assert lines[-1].startswith("gate: PASS — 27 missing, 1 within noise")
