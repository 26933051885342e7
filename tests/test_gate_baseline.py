"""`embharness gate`: tolerance edges, missing cells, per-task tolerances, baseline round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_report_fixtures import CODE_05B, REV, run_record, write_result

from embharness.commands.gate import gate
from embharness.errors import HarnessError
from embharness.gate.baseline import FORMAT, current_cells, read_baseline, write_baseline
from embharness.gate.gate import IMPROVED, MISSING, NEW, OK, REGRESSED, compare_cells, run_gate

BASE = 0.61  # CosQA baseline main score (61.00 points)


def _results(tmp_path: Path, cosqa: float | None = BASE, apps: float = 0.8) -> Path:
    results = tmp_path / "results"
    if cosqa is not None:
        write_result(results, CODE_05B, "CosQA", {"test": {"default": cosqa}}, record=run_record())
    write_result(results, CODE_05B, "AppsRetrieval", {"test": {"default": apps}})
    write_result(
        results,
        CODE_05B,
        "AppsRetrieval",
        {"test": {"default": apps - 0.1}},
        kwargs={"embed_dim": 256},
    )
    return results


@pytest.fixture
def baseline(tmp_path: Path) -> Path:
    path = tmp_path / "baselines" / "base.json"
    assert write_baseline(_results(tmp_path / "before"), path) == 3
    return path


def _gate(tmp_path: Path, baseline: Path, cosqa: float | None, **kwargs: object) -> tuple[int, str]:
    lines: list[str] = []
    results = _results(tmp_path / "now", cosqa)
    code = run_gate(results, baseline, echo=lines.append, **kwargs)  # type: ignore[arg-type]
    return code, "\n".join(lines)


@pytest.mark.parametrize(
    ("now", "code", "verdict"),
    [
        (0.605, 0, OK),  # Δ = −0.50: exactly the tolerance passes
        (0.6049, 1, REGRESSED),  # Δ = −0.51
        (0.615, 0, OK),  # Δ = +0.50
        (0.6151, 0, IMPROVED),  # Δ = +0.51 passes but is flagged
    ],
)
def test_tolerance_edge(
    tmp_path: Path, baseline: Path, now: float, code: int, verdict: str
) -> None:
    result, text = _gate(tmp_path, baseline, now, tolerance=0.5)
    assert result == code
    cosqa = next(line for line in text.splitlines() if "CosQA" in line).split()
    assert cosqa[0] == verdict
    assert cosqa[-4:-1] == ["61.00", f"{now * 100:.2f}", f"{(now - BASE) * 100:+.2f}"]
    assert text.splitlines()[-1].startswith("gate: FAIL" if code else "gate: PASS")


def test_missing_cell_fails_unless_allowed(tmp_path: Path, baseline: Path) -> None:
    code, text = _gate(tmp_path, baseline, None)
    assert code == 1
    assert next(line for line in text.splitlines() if "CosQA" in line).startswith(MISSING)
    assert "1 missing" in text.splitlines()[-1]
    code, _ = _gate(tmp_path / "again", baseline, None, allow_missing=True)
    assert code == 0


def test_per_task_tolerances_yaml_and_json(tmp_path: Path, baseline: Path) -> None:
    yaml_file = tmp_path / "tol.yaml"
    yaml_file.write_text("CosQA: 1.0\n")
    assert _gate(tmp_path / "a", baseline, 0.6001, tolerances_path=yaml_file)[0] == 0  # Δ −0.99
    assert _gate(tmp_path / "b", baseline, 0.5999, tolerances_path=yaml_file)[0] == 1  # Δ −1.01
    json_file = tmp_path / "tol.json"
    json_file.write_text(json.dumps({"tasks": {"CosQA": 0.1}}))
    assert _gate(tmp_path / "c", baseline, 0.6085, tolerances_path=json_file)[0] == 1  # Δ −0.15
    json_file.write_text(json.dumps({"CosQA": "lots"}))
    with pytest.raises(HarnessError, match="non-numeric"):
        _gate(tmp_path / "d", baseline, BASE, tolerances_path=json_file)


def test_new_cells_are_reported_and_pass() -> None:
    from embharness.gate.baseline import Cell

    old = Cell(CODE_05B, REV, None, "CosQA", "test", "default", "ndcg_at_10", 0.5)
    new = Cell(CODE_05B, REV, None, "AppsRetrieval", "test", "default", "ndcg_at_10", 0.7)
    rows = compare_cells([old], [old, new], 0.5, {})
    assert [(r.cell.task, r.verdict) for r in rows] == [("CosQA", OK), ("AppsRetrieval", NEW)]


def test_write_baseline_round_trip(tmp_path: Path, baseline: Path) -> None:
    data = json.loads(baseline.read_text())
    assert data["format"] == FORMAT and data["provenance"]["git_shas"] == ["abc1234"]
    cells, provenance = read_baseline(baseline)
    assert cells == current_cells(_results(tmp_path / "same"))
    assert {(c.experiment, c.task, c.score) for c in cells} == {
        (None, "CosQA", 0.61),
        (None, "AppsRetrieval", 0.8),
        ("embed_dim_256", "AppsRetrieval", 0.7),
    }
    assert {c.metric for c in cells} == {"ndcg_at_10"}
    assert provenance["created_by"] == "embharness gate --write-baseline"
    # refreshing replaces the file with the new scores
    write_baseline(_results(tmp_path / "newer", 0.5), baseline)
    assert {c.score for c in read_baseline(baseline)[0] if c.task == "CosQA"} == {0.5}
    assert [p.name for p in baseline.parent.iterdir()] == ["base.json"]  # no temp files left


def test_bad_baselines_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="does not exist"):
        read_baseline(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": FORMAT, "version": 1, "cells": [{"task": "CosQA"}]}))
    with pytest.raises(HarnessError, match="malformed"):
        read_baseline(bad)


def test_cli_exit_codes(tmp_path: Path) -> None:
    results = _results(tmp_path / "cli")
    base = tmp_path / "b.json"
    runner = CliRunner()
    out = runner.invoke(
        gate, ["--baseline", str(base), "--results", str(results), "--write-baseline"]
    )
    assert out.exit_code == 0 and "3 cells" in out.output
    out = runner.invoke(gate, ["--baseline", str(base), "--results", str(results)])
    assert out.exit_code == 0 and "gate: PASS" in out.output
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.55}})
    out = runner.invoke(
        gate, ["--baseline", str(base), "--results", str(results), "--tolerance", "5"]
    )
    assert out.exit_code == 1 and "regressed" in out.output  # Δ −6 > 5


def test_commands_are_registered_and_errors_exit_2(tmp_path: Path) -> None:
    from embharness.cli import main

    assert {"report", "gate", "submit"} <= set(main.commands)
    out = CliRunner().invoke(main, ["gate", "--baseline", str(tmp_path / "none.json")])
    assert out.exit_code == 2
    assert out.output.startswith("error: ") and "does not exist" in out.output
