"""One folder rule: ``--results-dir out`` works through run, report, gate and submit alike."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from test_report_fixtures import CODE_05B, code_05b_meta, full_scores, run_record, write_result

from embharness.cli import main

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_any_results_folder_name_through_all_four_commands(tmp_path: Path) -> None:
    out = tmp_path / "out"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "models": [{"name": MINILM, "dims": [64, 384]}],
                "tasks": [{"name": TASK, "max_samples": 8}],
            }
        )
    )
    cache = str(tmp_path / "cache")
    _invoke("run", str(sweep), "--results-dir", str(out), "--cache-dir", cache, "--quiet")
    results = sorted(p for p in out.rglob(f"{TASK}.json") if "_embharness" not in p.parts)
    assert len(results) == 2 and all(out in p.parents for p in results)

    _invoke("report", "--results", str(out), "--out", str(tmp_path / "reports"))
    report = (tmp_path / "reports" / "report.md").read_text()
    assert TASK in report and MINILM in report

    baseline = tmp_path / "baseline.json"
    assert "2 cells" in _invoke(
        "gate", "--baseline", str(baseline), "--results", str(out), "--write-baseline"
    )
    assert "PASS" in _invoke("gate", "--baseline", str(baseline), "--results", str(out))

    scores = full_scores("CosQA", 0.4)
    write_result(out, CODE_05B, "CosQA", scores, meta=code_05b_meta(), record=run_record())
    export = tmp_path / "submission"
    said = _invoke(
        "submit",
        "--model",
        CODE_05B,
        "--results",
        str(out),
        "--out",
        str(export),
        "--allow-partial",
    )
    assert "exported 1 task result(s)" in said
    assert list((export / "results").rglob("CosQA.json"))
