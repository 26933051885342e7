"""The published figures: found inside the project, loaded, and validated."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pytest

from embharness.paths import configure_environment

configure_environment()

from test_report_fixtures import PAPER_05B  # noqa: E402

from embharness.errors import HarnessError  # noqa: E402
from embharness.report.published import (  # noqa: E402
    CODE_AVG,
    OVERALL_AVG,
    PUBLISHED_ENV,
    TABLE2_FILE,
    V3_RESULTS_FILE,
    V3_SUMMARY_FILE,
    load_published,
    published_dir,
)

REPO = Path(__file__).resolve().parents[1]


def test_published_folder_is_inside_the_project() -> None:
    assert published_dir() == REPO / "src" / "embharness" / "data" / "published"
    assert (REPO / "src" / "embharness" / "data" / "published" / "SOURCES.md").is_file()


def test_loads_table2_and_v3_files() -> None:
    published = load_published()
    assert len(published.table2) == 25
    assert sorted(published.code_tasks()) == sorted(PAPER_05B)
    model = "jinaai/jina-code-embeddings-0.5b"
    for task, value in PAPER_05B.items():
        assert published.paper_score(model, task) == value
    assert published.paper_average(model, CODE_AVG) == 78.72
    assert published.paper_average(model, OVERALL_AVG) == 78.41
    assert round(statistics.fmean(PAPER_05B.values()), 2) == 78.72
    assert [task for _, task in published.overall_cells()].count(None) == 8
    assert published.paper_column("Qwen/Qwen3-Embedding-0.6B") == "Qwen3-Embedding-0.6B"
    assert published.paper_column("sentence-transformers/all-MiniLM-L6-v2") is None


def test_v3_results_are_points_and_matryoshka_table_parsed() -> None:
    published = load_published()
    rows = published.v3_results
    sts12 = rows[(rows["task"] == "STS12") & (rows["split"] == "test")]
    assert sts12["score"].round(4).tolist() == [82.4384]
    assert int(rows["in_mteb_eng_v1"].sum()) == 54
    matryoshka = published.v3_matryoshka()
    assert sorted(matryoshka["dim"].unique()) == [32, 64, 128, 256, 512, 768, 1024]
    retrieval = matryoshka[matryoshka["kind"] == "retrieval"].set_index("dim")["value"]
    assert retrieval[64] == 58.54 and retrieval[1024] == 63.35


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "published"
    shutil.copytree(REPO / "src" / "embharness" / "data" / "published", folder)
    return folder


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unknown_mteb_task_name_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _replace(folder / TABLE2_FILE, ",CosQA,nl2code", ",CosQAX,nl2code")
    with pytest.raises(HarnessError, match="CosQAX"):
        load_published(folder)


def test_unknown_task_in_v3_results_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _replace(folder / V3_RESULTS_FILE, "\nSTS12,", "\nSTS12Typo,")
    with pytest.raises(HarnessError, match="STS12Typo"):
        load_published(folder)


def test_duplicate_rows_are_errors(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    path = folder / V3_RESULTS_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(HarnessError, match="duplicate"):
        load_published(folder)
    folder = _copy(tmp_path / "second")
    summary = folder / V3_SUMMARY_FILE
    lines = summary.read_text().splitlines()
    summary.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(HarnessError, match="duplicate"):
        load_published(folder)


def test_printed_average_must_recompute(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _replace(
        folder / TABLE2_FILE,
        "MTEB Code AVG,MTEB Code AVG,,,,78.72",
        "MTEB Code AVG,MTEB Code AVG,,,,78.90",
    )
    with pytest.raises(HarnessError, match="MTEB Code AVG"):
        load_published(folder)


def test_env_var_overrides_and_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy(tmp_path)
    monkeypatch.setenv(PUBLISHED_ENV, str(folder))
    assert published_dir() == folder.resolve()
    monkeypatch.setenv(PUBLISHED_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(HarnessError, match=PUBLISHED_ENV):
        published_dir()
