"""`embharness report` on fixture results with known numbers."""

from __future__ import annotations

import re
import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image
from test_report_fixtures import (
    CODE_05B,
    PAPER_05B,
    REV,
    V3,
    V3_REVISION,
    code_05b_meta,
    full_scores,
    run_record,
)
from test_report_fixtures import write_result as write

from embharness.commands.report import report
from embharness.errors import HarnessError
from embharness.report.averages import averages_frame
from embharness.report.build import build_report
from embharness.report.categories import categories_frame, cells_frame
from embharness.report.dims import dim_tables
from embharness.report.published import load_published
from embharness.report.results_table import comparison_frame
from embharness.report.settings import settings_table
from embharness.results.runs import load_runs

CODE_15B = "jinaai/jina-code-embeddings-1.5b"
PAPER_05B_CODE_AVG = 78.72
PAPER_15B = {"CosQA": 35.10, "AppsRetrieval": 86.63, "StackOverflowQA": 92.37}
# ours − paper, in points; ±0.50 is exactly at the default tolerance.
OFFSETS = {
    "CosQA": 0.50,
    "AppsRetrieval": -0.50,
    "StackOverflowQA": 0.51,
    "CodeTransOceanDL": -0.51,
}
OFFSETS |= {"SyntheticText2SQL": -2.30, "CodeFeedbackMT": 0.12}
# jina-embeddings-v3 in the MTEB results repository (fractions), typed from the file.
REPO_STS17 = {"en-en": 0.9001045015808861, "ko-ko": 0.8528627431431928}
REPO_STS12 = 0.8243843925205465
REPO_SCIFACT_TEST = 0.72533
REPO_SUMMEVAL = 0.2970654350917005
CARD_SUMMARIZATION = 30.98  # older model card, MTEB(eng) Summarization


def ours_05b(task: str) -> float:
    return PAPER_05B[task] + OFFSETS.get(task, 0.0)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fixture") / "results"
    record = run_record()
    for task in PAPER_05B:
        score = round(ours_05b(task) / 100, 6)
        write(root, CODE_05B, task, full_scores(task, score), meta=code_05b_meta(), record=record)
    for task in ("CosQA", "AppsRetrieval"):
        low = round((PAPER_05B[task] - 3) / 100, 6)
        write(
            root, CODE_05B, task, full_scores(task, low), kwargs={"embed_dim": 256}, record=record
        )
    write(root, CODE_05B, "HumanEvalRetrievalOffline", {"test": {"default": 0.93}}, record=record)
    write(root, CODE_05B, "HumanEvalRetrievalOffline", {"test": {"default": 0.90}},
          kwargs={"embed_dim": 256})  # fmt: skip
    write(root, CODE_05B, "CosQA", {"test": {"default": 0.2}}, kwargs={"max_samples": 20})
    for task, value in PAPER_15B.items():
        write(root, CODE_15B, task, full_scores(task, value / 100), embed_dim=1536)
    write(root, CODE_15B, "CodeSearchNetRetrieval", {"test": {"python": 0.9}}, embed_dim=1536)
    v3 = {"revision": V3_REVISION, "embed_dim": 1024}
    write(root, V3, "STS12", {"test": {"default": 0.83}}, **v3)
    write(root, V3, "SciFact", {"test": {"default": 0.7253}}, **v3)
    write(root, V3, "STS17", {"test": {"en-en": 0.90, "ko-ko": 0.85}}, **v3)
    write(root, V3, "SummEval", {"test": {"default": 0.30}}, **v3)
    write(root, V3, "SprintDuplicateQuestions", {"test": {"default": 0.97}}, **v3)
    return root


@pytest.fixture(scope="module")
def comparison(results: Path) -> pd.DataFrame:
    return comparison_frame(load_runs(results), load_published(), tolerance=0.5)


def _row(frame: pd.DataFrame, model: str, task: str, experiment: str = "default") -> pd.Series:
    rows = frame[(frame.model == model) & (frame.task == task) & (frame.experiment == experiment)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_deltas_against_paper_and_tolerance_edge(comparison: pd.DataFrame) -> None:
    for task, paper in PAPER_05B.items():
        row = _row(comparison, CODE_05B, task)
        assert row.reference == "paper"
        assert row.published == paper
        assert row.ours == pytest.approx(ours_05b(task), abs=1e-9)
        assert row.delta == pytest.approx(OFFSETS.get(task, 0.0), abs=1e-9)
    expected = {"CosQA": True, "AppsRetrieval": True, "StackOverflowQA": False}
    expected |= {"CodeTransOceanDL": False, "SyntheticText2SQL": False, "CodeFeedbackMT": True}
    for task, within in expected.items():
        assert _row(comparison, CODE_05B, task).within_tolerance is within


def test_capped_and_incomplete_results_are_not_compared(comparison: pd.DataFrame) -> None:
    capped = _row(comparison, CODE_05B, "CosQA", "max_samples_20")
    assert capped.ours == pytest.approx(20.0)
    assert capped.delta is None and capped.within_tolerance is None
    assert "capped at 20 samples" in capped.note
    partial_task = _row(comparison, CODE_15B, "CodeSearchNetRetrieval")
    assert partial_task.delta is None and "incomplete task" in partial_task.note


def test_missing_cells_are_missing_not_zero(comparison: pd.DataFrame) -> None:
    missing = _row(comparison, CODE_15B, "CodeFeedbackMT")
    assert missing.ours is None and missing.delta is None
    assert missing.published == 89.91 and missing.note == "missing: no result"
    not_in_mteb = _row(comparison, CODE_15B, "CoSQA+")
    assert not_in_mteb.ours is None and not_in_mteb.note == "missing: not in mteb"
    assert (comparison.ours == 0).sum() == 0


def test_offline_task_has_no_published_figure(comparison: pd.DataFrame) -> None:
    row = _row(comparison, CODE_05B, "HumanEvalRetrievalOffline")
    assert row.published is None and row.reference is None and row.delta is None
    assert row.ours == pytest.approx(93.0)


def test_paper_averages_recomputed_and_partial(results: Path) -> None:
    frame = averages_frame(load_runs(results), load_published(), tolerance=0.5)
    ours = statistics.fmean(ours_05b(task) for task in PAPER_05B)
    code = frame[(frame.model == CODE_05B) & (frame.experiment == "default")]
    code = code.set_index("average")
    assert code.loc["MTEB Code AVG", "ours"] == f"{ours:.2f}"
    assert code.loc["MTEB Code AVG", "delta"] == pytest.approx(ours - PAPER_05B_CODE_AVG, abs=1e-6)
    assert code.loc["MTEB Code AVG", "within_tolerance"] is (abs(ours - PAPER_05B_CODE_AVG) <= 0.5)
    assert code.loc["Overall AVG", "ours"] == f"{ours:.2f} (partial, 12/25)"
    assert pd.isna(code.loc["Overall AVG", "delta"])
    b = frame[frame.model == CODE_15B].set_index("average")
    partial = statistics.fmean(PAPER_15B.values())  # the incomplete CSN result is left out
    assert b.loc["MTEB Code AVG", "ours"] == f"{partial:.2f} (partial, 3/12)"
    assert b.loc["MTEB Code AVG", "note"] == "partial: not compared"
    assert pd.isna(b.loc["MTEB Code AVG", "delta"])


def test_matryoshka_table_includes_offline_task(results: Path) -> None:
    tables = {(t.model, t.max_samples): t for t in dim_tables(load_runs(results), load_published())}
    table = tables[(CODE_05B, None)]
    assert list(table.scores.columns) == [256, 896]
    assert table.scores.loc["HumanEvalRetrievalOffline", 256] == pytest.approx(90.0)
    assert table.scores.loc["CosQA", 256] == pytest.approx(36.25)
    assert pd.isna(table.scores.loc["CodeFeedbackMT", 256])
    shown = table.display().set_index("task")
    low = statistics.fmean([PAPER_05B["CosQA"] - 3, PAPER_05B["AppsRetrieval"] - 3])
    assert shown.loc["MTEB Code AVG", "dim 256"] == f"{low:.2f} (partial, 2/12)"
    assert shown.loc["CodeFeedbackMT", "dim 256"] == "—"
    assert tables[(CODE_05B, 20)].max_samples == 20


def test_v3_compared_with_results_repository_cell_by_cell(
    results: Path, comparison: pd.DataFrame
) -> None:
    sts17 = _row(comparison, V3, "STS17")
    published = statistics.fmean(REPO_STS17.values()) * 100
    assert sts17.reference == "mteb-results"
    assert sts17.published == pytest.approx(published, abs=1e-9)
    assert sts17.delta == pytest.approx(87.5 - published, abs=1e-6)
    scifact = _row(comparison, V3, "SciFact")  # test split only, like our result
    assert scifact.published == pytest.approx(REPO_SCIFACT_TEST * 100)
    assert scifact.within_tolerance is True
    cells = cells_frame(load_runs(results), load_published(), 0.5).set_index(["task", "subset"])
    assert cells.loc[("STS12", "default"), "delta"] == pytest.approx(
        83 - REPO_STS12 * 100, abs=1e-6
    )
    assert cells.loc[("STS12", "default"), "within_tolerance"] is False
    assert cells.loc[("STS17", "ko-ko"), "published"] == pytest.approx(REPO_STS17["ko-ko"] * 100)


def test_build_report_writes_markdown_html_csv_and_plots(results: Path, tmp_path: Path) -> None:
    files = build_report(results, tmp_path / "reports", tolerance=0.5)
    markdown = files.markdown.read_text()
    assert "| float32 |" in markdown and "| 512 |" in markdown and "abc1234" in markdown
    assert REV in markdown and V3_REVISION in markdown
    # fixture runs have no per-item file: the score alone, marked, the reason in the footnote
    assert "| CosQA | 39.75† | 39.25 | paper | +0.50 | ✓ |" in markdown
    assert "| StackOverflowQA | 91.55† | 91.04 | paper | +0.51 | ✗ |" in markdown
    assert "† no per-item file (run before per-item scores)" in markdown
    assert not re.search(r"\d ± \d", markdown.split("## Run settings", 1)[1])  # no CI at all
    assert "(partial, 3/12)" in markdown
    assert "| CodeFeedbackMT | missing | 89.91 | paper | — |" in markdown
    html = files.html.read_text()
    assert (
        html.count("<table") >= 8 and html.count("data:image/png;base64,") == len(files.plots) // 2
    )
    csv = pd.read_csv(files.csv)
    row = csv[(csv.model == CODE_15B) & (csv.task == "CodeFeedbackMT")].iloc[0]
    assert pd.isna(row.ours) and row.published == 89.91
    dims = csv[(csv.model == CODE_05B) & (csv.experiment == "embed_dim_256")]
    assert sorted(dims.task) == ["AppsRetrieval", "CosQA", "HumanEvalRetrievalOffline"]
    names = {p.name for p in files.plots}
    assert {"ours_vs_published.png", "ours_vs_published.svg", "dims_CosQA.svg"} <= names
    for png in (p for p in files.plots if p.suffix == ".png"):
        with Image.open(png) as image:
            assert image.size[0] > 300 and len(image.getcolors(1 << 20) or []) > 10


def test_run_settings_from_records_and_unknown_without(results: Path) -> None:
    table = settings_table(load_runs(results)).set_index("setting")
    a = table[f"{CODE_05B} @ {REV[:12]}"]
    assert (a["dtype"], a["max length"], a["git sha"], a["dirty"]) == (
        "float32",
        "512",
        "abc1234",
        "False",
    )
    assert a["run records"] == "15/17"  # the capped run and one offline dim run lack records
    v3 = table[f"{V3} @ {V3_REVISION[:12]}"]
    assert (v3["run records"], v3["dtype"], v3["git sha"]) == ("0/5", "unknown", "unknown")


def test_results_folder_of_any_name_must_exist(results: Path, tmp_path: Path) -> None:
    """The store's folder rule: any name reads the same; a missing folder is one line."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(results, elsewhere)
    keys = [(r.model, r.revision, r.experiment, r.task, r.score()) for r in load_runs(results)]
    assert [
        (r.model, r.revision, r.experiment, r.task, r.score()) for r in load_runs(elsewhere)
    ] == keys
    with pytest.raises(HarnessError, match="does not exist"):
        load_runs(tmp_path / "missing")


def test_report_command_with_custom_tolerance(results: Path, tmp_path: Path) -> None:
    out = CliRunner().invoke(
        report, ["--results", str(results), "--out", str(tmp_path), "--tolerance", "0.1"]
    )
    assert out.exit_code == 0, out.output
    markdown = (tmp_path / "report.md").read_text()
    assert "within ±0.1" in markdown
    assert "| CosQA | 39.75† | 39.25 | paper | +0.50 | ✗ |" in markdown


def test_v3_category_averages_only_when_every_task_is_present(results: Path) -> None:
    frame = categories_frame(load_runs(results), load_published(), 0.5)
    summ = frame[frame.category == "Summarization (1 task)"].set_index("reference")
    assert summ.loc["model card", "ours"] == "30.00"
    assert summ.loc["model card", "delta"] == pytest.approx(30 - CARD_SUMMARIZATION)
    assert summ.loc["model card", "within_tolerance"] is False
    recomputed = summ.loc["mteb-results (recomputed)"]
    assert recomputed.published == pytest.approx(REPO_SUMMEVAL * 100)
    assert recomputed.delta == pytest.approx(30 - REPO_SUMMEVAL * 100, abs=1e-6)
    assert recomputed.within_tolerance is True
    pairs = frame[frame.category == "PairClassification (3 tasks)"]
    assert set(pairs.ours) == {"97.00 (partial, 1/3)"}
    assert pairs.delta.isna().all() and set(pairs.note) == {"needs every task: not compared"}
    overall = frame[frame.category == "Average (56 tasks)"]
    assert overall.delta.isna().all()
