"""The long frame of every scored cell (results.frame) and RunKind."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_report_fixtures import CODE_05B, V3, V3_REVISION, code_05b_meta, write_result

from embharness.results.frame import COLUMNS, runs_frame, task_frame
from embharness.results.runs import DEFAULT_EXPERIMENT, RunKind, load_runs


def test_one_row_per_cell_with_kind_label_and_missing_cells(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.4}}, meta=code_05b_meta())
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.3}}, kwargs={"embed_dim": 256})
    write_result(results, CODE_05B, "CosQA", {"test": {"default": 0.2}}, kwargs={"max_samples": 5})
    v3 = {"revision": V3_REVISION, "embed_dim": 1024}
    write_result(results, V3, "STS17", {"test": {"en-en": 0.9, "ko-ko": 0.8}}, **v3)
    runs = load_runs(results)
    assert {r.label for r in runs} >= {DEFAULT_EXPERIMENT, "embed_dim_256"}
    cells = runs_frame(runs)
    assert list(cells.columns) == COLUMNS
    cosqa = cells[cells.task == "CosQA"].set_index("experiment")
    assert cosqa.loc["default", "kind"] is RunKind.FULL
    assert (
        cosqa.loc["embed_dim_256", "kind"] is RunKind.DIM
        and cosqa.loc["embed_dim_256", "dim"] == 256
    )
    assert cosqa.loc["max_samples_5", "kind"] is RunKind.FULL
    assert cosqa.loc["max_samples_5", "max_samples"] == 5
    assert cosqa.loc["default", "score"] == pytest.approx(40.0)
    sts = cells[cells.task == "STS17"]
    assert not sts.complete.any() and sts.score.isna().sum() == len(sts) - 2
    tasks = task_frame(cells).set_index(["task", "experiment"])
    assert tasks.loc[("STS17", "default"), "score"] == pytest.approx(85.0)
    assert tasks.loc[("STS17", "default"), "cells"] == 2
    assert tasks.loc[("STS17", "default"), "missing"].startswith("test: ")
    assert tasks.loc[("CosQA", "default"), "missing"] == ""
    assert pd.isna(tasks.loc[("CosQA", "default"), "precision"])
