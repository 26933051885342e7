"""Per-subset scores: split × subset × dimension tables, their Markdown/HTML and CSV."""

from __future__ import annotations

from pathlib import Path

import mteb
import pandas as pd
import pytest
from test_report_fixtures import CODE_05B, REV, V3, V3_REVISION, code_05b_meta, full_scores
from test_report_fixtures import write_result as write

from embharness.report.build import build_report
from embharness.report.subsets import SubsetTable, subset_tables
from embharness.results.runs import load_runs

MANPAGES = "ManpagesCrossLingualRetrieval"
PAIRS = ["deu-eng", "fra-eng", "spa-eng", "por-eng", "pol-eng", "rus-eng"]
FULL = dict(zip(PAIRS, [0.61, 0.72, 0.53, 0.44, 0.35, 0.26], strict=True))
DIM_256 = {pair: score - 0.05 for pair, score in FULL.items() if pair != "rus-eng"}  # one missing
DIM_64 = {pair: score - 0.10 for pair, score in FULL.items()}
CAPPED = {"deu-eng": 0.9, "fra-eng": 0.8}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subsets") / "results"
    write(root, CODE_05B, MANPAGES, {"test": FULL}, meta=code_05b_meta())
    write(root, CODE_05B, MANPAGES, {"test": DIM_256}, kwargs={"embed_dim": 256})
    write(root, CODE_05B, MANPAGES, {"test": DIM_64}, kwargs={"embed_dim": 64})
    write(root, CODE_05B, MANPAGES, {"test": CAPPED}, kwargs={"max_samples": 20})
    write(root, CODE_05B, "CosQA", full_scores("CosQA", 0.4), meta=code_05b_meta())  # 1 cell
    two_splits = {"dev": {"a": 0.1, "b": 0.2}, "test": {"a": 0.3}}
    write(root, CODE_05B, "TwoSplitOffline", two_splits, meta=code_05b_meta())
    v3 = {"revision": V3_REVISION, "embed_dim": 1024}
    write(root, V3, "STS17", {"test": {"en-en": 0.90, "ko-ko": 0.85}}, **v3)
    return root


@pytest.fixture(scope="module")
def tables(results: Path) -> dict[tuple[str, int | None, str], SubsetTable]:
    return {(t.model, t.max_samples, t.task): t for t in subset_tables(load_runs(results))}


def test_only_multi_cell_tasks_get_tables(tables: dict) -> None:
    assert set(tables) == {
        (CODE_05B, None, MANPAGES),
        (CODE_05B, 20, MANPAGES),
        (CODE_05B, None, "TwoSplitOffline"),
        (V3, None, "STS17"),
    }


def test_values_subset_count_and_missing_cell(tables: dict) -> None:
    table = tables[(CODE_05B, None, MANPAGES)]
    assert table.subsets == sorted(PAIRS) and len(table.subsets) == 6
    assert table.title == f"{MANPAGES}: {CODE_05B} @ {REV[:12]} (6 subsets)"
    shown = table.display().set_index("subset")
    assert list(shown.columns) == ["dim 64", "dim 256", "dim 896"]  # one split: no split column
    for pair in PAIRS:
        assert shown.loc[pair, "dim 896"] == f"{FULL[pair] * 100:.2f}"
        assert shown.loc[pair, "dim 64"] == f"{DIM_64[pair] * 100:.2f}"
    assert shown.loc["deu-eng", "dim 896"] == "61.00"
    assert shown.loc["fra-eng", "dim 256"] == "67.00"
    assert shown.loc["rus-eng", "dim 256"] == "—"
    assert shown.loc["subsets scored"].tolist() == ["6/6", "5/6", "6/6"]
    assert pd.isna(table.scores().loc[("test", "rus-eng"), "dim 256"])


def test_capped_run_is_separate_and_labelled(tables: dict) -> None:
    capped = tables[(CODE_05B, 20, MANPAGES)]
    assert "capped at 20 samples (not comparable)" in capped.title
    assert "(2 subsets)" in capped.title
    shown = capped.display().set_index("subset")
    assert shown.loc["deu-eng", "dim 896"] == "90.00"
    assert "max_samples_20" not in tables[(CODE_05B, None, MANPAGES)].labels()


def test_splits_shown_when_several(tables: dict) -> None:
    table = tables[(CODE_05B, None, "TwoSplitOffline")]
    assert table.title.endswith("(2 subsets × 2 splits)")
    shown = table.display().set_index(["split", "subset"])["dim 896"]
    assert shown[("dev", "b")] == "20.00" and shown[("test", "a")] == "30.00"
    assert ("test", "b") not in shown  # only cells a run has or mteb expects are rows
    assert shown[("", "subsets scored")] == "3/3"


def test_subsets_mteb_expects_but_lacking_are_missing(tables: dict) -> None:
    table = tables[(V3, None, "STS17")]
    expected = mteb.get_task("STS17").hf_subsets
    assert table.subsets == sorted(expected)
    shown = table.display().set_index("subset")["dim 1024"]
    assert shown["en-en"] == "90.00" and shown["ko-ko"] == "85.00"
    assert shown["en-de"] == "—"
    assert shown["subsets scored"] == f"2/{len(expected)}"


def test_report_markdown_html_and_csv(results: Path, tmp_path: Path) -> None:
    files = build_report(results, tmp_path / "reports")
    markdown = files.markdown.read_text()
    assert "## Per-subset scores" in markdown
    assert f"**{MANPAGES}: {CODE_05B} @ {REV[:12]} (6 subsets)**" in markdown
    assert "| subset | dim 64 | dim 256 | dim 896 |" in markdown
    assert "| rus-eng | 16.00† | — | 26.00† |" in markdown  # no per-item files: marked
    assert "| subsets scored | 6/6 | 5/6 | 6/6 |" in markdown
    html = files.html.read_text()
    assert f"<caption>{MANPAGES}: {CODE_05B} @ {REV[:12]} (6 subsets)</caption>" in html
    assert "<td>rus-eng</td>" in html
    assert files.subsets_csv == tmp_path / "reports" / "scores_by_subset.csv"
    csv = pd.read_csv(files.subsets_csv)
    assert list(csv.columns) == [
        "model",
        "revision",
        "experiment",
        "dim",
        "task",
        "split",
        "subset",
        "main_score",
    ]
    manpages = csv[(csv.task == MANPAGES)].set_index(["experiment", "subset"])
    assert len(manpages) == 6 * 3 + 2  # the capped table has its own two subsets
    assert manpages.loc[("default", "deu-eng"), "main_score"] == pytest.approx(61.0)
    assert manpages.loc[("embed_dim_256", "fra-eng"), "dim"] == 256
    assert pd.isna(manpages.loc[("embed_dim_256", "rus-eng"), "main_score"])
    assert manpages.loc[("max_samples_20", "fra-eng"), "main_score"] == pytest.approx(80.0)
    assert (csv.main_score == 0).sum() == 0
    assert "CosQA" not in set(csv.task)
