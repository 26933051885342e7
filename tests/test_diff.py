"""`embharness diff` on a real MiniLM run of HumanEval at dims 384 and 256 (per-query scores),
plus a CosQA result without per-item scores in each variant folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from test_report_fixtures import task_result

from embharness.cli import main
from embharness.gate.diff import build_diff
from embharness.results.paired import B_HIGHER, B_LOWER, NO_ITEMS, OLD_RUN, WITHIN_NOISE
from embharness.results.per_query import PerItemScores
from embharness.results.stats import paired_difference
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import load_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"
RESAMPLES = 500
SWEEP = f"""name: diff
settings: {{batch_size: 32, dtype: float32}}
models:
  - name: {MINILM}
    dims: [384, 256]
tasks: [{TASK}]
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("diff")
    (root / "sweep.yaml").write_text(SWEEP)
    options = RunOptions(root / "results", root / "cache", show_progress=False)
    SweepRunner(load_sweep(root / "sweep.yaml"), options).run()
    (revision,) = (root / "results" / MINILM.replace("/", "__")).iterdir()
    for folder, score in ((revision, 0.30), (revision / "experiments" / "embed_dim_256", 0.27)):
        task_result("CosQA", {"test": {"default": score}}).to_disk(folder / "CosQA.json")
    return root / "results"


def _folder(results: Path, experiment: str | None) -> Path:
    (revision,) = (results / MINILM.replace("/", "__")).iterdir()
    return revision if experiment is None else revision / "experiments" / experiment


def _score(results: Path, experiment: str | None, task: str) -> float:
    data = json.loads((_folder(results, experiment) / f"{task}.json").read_text())
    return float(data["scores"]["test"][0]["main_score"])


def _items(results: Path, experiment: str | None) -> PerItemScores:
    return PerItemScores.load(
        _folder(results, experiment) / "_embharness" / f"{TASK}.items.parquet"
    )


def test_a_folder_diffed_with_itself_has_no_difference(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["diff", str(results), str(results), "--out", str(out), "--resamples", str(RESAMPLES)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    frame = pd.read_csv(out / "diff.csv")
    assert len(frame) == 4  # HumanEval and CosQA, default and embed_dim_256
    assert (frame["delta"] == 0).all() and (frame["a_score"] == frame["b_score"]).all()
    tested = frame[frame["task"] == TASK]
    assert len(tested) == 2 and (tested["verdict"] == WITHIN_NOISE).all()
    assert (tested["p"] == 1).all() and (tested["p_holm"] == 1).all()
    assert (tested["ci_low"] == 0).all() and (tested["ci_high"] == 0).all()
    assert (tested["n_items"] == 164).all() and (tested["metric"] == "ndcg_at_10").all()
    untested = frame[frame["task"] == "CosQA"]
    assert (untested["verdict"] == NO_ITEMS).all()
    assert (untested["note"] == f"no per-item scores in A: {OLD_RUN}").all()
    assert not frame["verdict"].isin([B_HIGHER, B_LOWER]).any()
    assert list(frame["task"]) == [TASK, TASK, "CosQA", "CosQA"]  # tested cells first
    assert "4 common, 0 only in A, 0 only in B" in run.output
    assert "diff: 2 no per-item scores, 2 within noise" in run.output
    page = (out / "diff.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr>") >= 4
    assert "95% CI of Δ" in page and "within noise" in page


def test_two_variants_pair_by_task(results: Path) -> None:
    a, b = f"{results}:all-MiniLM-L6-v2@default", f"{results}:{MINILM}@embed_dim_256"
    found = build_diff(a, b, Path("unused"), alpha=0.05, n_resamples=RESAMPLES)
    assert found.pinned and (found.only_a, found.only_b) == (0, 0)
    rows = {row.cell.task: row for row in found.rows}
    assert list(rows) == [TASK, "CosQA"]
    want = paired_difference(_items(results, None), _items(results, "embed_dim_256"),
                             n_resamples=RESAMPLES)  # fmt: skip
    human = rows[TASK]
    expected = (_score(results, "embed_dim_256", TASK) - _score(results, None, TASK)) * 100
    assert human.delta == pytest.approx(expected, abs=1e-6)
    assert human.ci == pytest.approx((want.delta.low * 100, want.delta.high * 100))
    assert human.p == want.p_value and human.p_holm == want.p_value  # a family of one
    assert rows["CosQA"].delta == pytest.approx(-3.0) and rows["CosQA"].verdict == NO_ITEMS
    by_dim = build_diff(
        f"{results}:all-MiniLM-L6-v2@dim=384", f"{results}:all-MiniLM-L6-v2@dim=256",
        Path("unused"), alpha=0.05, n_resamples=RESAMPLES,
    )  # fmt: skip
    assert [(r.key, r.delta, r.p) for r in by_dim.rows] == [
        (r.key, r.delta, r.p) for r in found.rows
    ]


def test_cells_on_other_task_data_are_noted(results: Path, tmp_path: Path) -> None:
    """B's CosQA was scored on other data (another dataset revision): the note says so, the
    HumanEval cells (same data) keep their notes, and the CSV carries the same note."""
    other = tmp_path / "other"
    shutil.copytree(results, other)
    path = _folder(other, None) / "CosQA.json"
    data = json.loads(path.read_text())
    before, data["dataset_revision"] = data["dataset_revision"], "other-data"
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    args = ["diff", str(results), str(other), "--out", str(out), "--resamples", str(RESAMPLES)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    notes = pd.read_csv(out / "diff.csv").set_index(["task", "a_experiment"])["note"]
    changed = f"task data differs (dataset revision {before} → other-data)"
    assert notes["CosQA", "default"] == f"{changed}; no per-item scores in A: {OLD_RUN}"
    assert notes["CosQA", "embed_dim_256"] == f"no per-item scores in A: {OLD_RUN}"
    assert notes[TASK].isna().all()  # same data, tested: no note
    assert changed in run.output


def test_default_folder_selectors_and_only_one_side(results: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(results, other)
    (_folder(other, "embed_dim_256") / "CosQA.json").unlink()
    args = ["diff", str(results), str(other), "--resamples", str(RESAMPLES)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0 and "3 common, 1 only in A, 0 only in B" in run.output
    run = CliRunner().invoke(
        main, ["diff", "--results", str(results), "all-MiniLM-L6-v2", "all-MiniLM-L6-v2@dim=256",
               "--resamples", str(RESAMPLES)],
    )  # fmt: skip
    assert run.exit_code == 0 and "A run" in run.output and "2 common" in run.output


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("nomodel@default", f"no model 'nomodel' in {{results}} (nor is it a results folder) — "
         f"fix: available models: {MINILM}"),
        ("all-MiniLM-L6-v2@embed_dim_32", f"{MINILM} has no runs for variant 'embed_dim_32' in "
         "{results} — fix: available variants: default, embed_dim_256, or dim=N for N in 256, 384"),
        ("{results}:@default", "names no model"),
        ("/nonexistent/folder:all-MiniLM-L6-v2", "results folder /nonexistent/folder does not"),
    ],
)  # fmt: skip
def test_bad_selectors_are_one_line_errors(results: Path, selector: str, message: str) -> None:
    args = ["diff", "--results", str(results), "all-MiniLM-L6-v2", selector.format(results=results)]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 2
    assert run.output.startswith("error: ") and len(run.output.strip().splitlines()) == 1
    assert message.format(results=results) in run.output


def test_bad_options_exit_2(results: Path) -> None:
    run = CliRunner().invoke(main, ["diff", str(results), str(results), "--alpha", "0"])
    assert run.exit_code == 2 and "alpha 0.0 is invalid" in run.output
    run = CliRunner().invoke(main, ["diff", str(results), str(results), "--resamples", "0"])
    assert run.exit_code == 2
