"""The published figures: found inside the project, loaded, and validated."""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import pandas as pd
import pytest

from embharness.paths import configure_environment

configure_environment()

import importlib.util  # noqa: E402

from test_report_fixtures import (  # noqa: E402
    PAPER_05B,
    V3_REVISION,
    write_result,
)

from embharness.errors import HarnessError  # noqa: E402
from embharness.report.build import build_report  # noqa: E402
from embharness.report.published import (  # noqa: E402
    LONG_FILE,
    PUBLISHED_ENV,
    load_published,
    published_dir,
)

REPO = Path(__file__).resolve().parents[1]
CODE_AVG, OVERALL_AVG = "MTEB Code AVG", "Overall AVG"
_SPEC = importlib.util.spec_from_file_location(
    "build_published_long", REPO / "scripts" / "build_published_long.py"
)
assert _SPEC and _SPEC.loader
builder = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(builder)


def test_published_folder_is_inside_the_project() -> None:
    assert published_dir() == REPO / "src" / "embharness" / "data" / "published"
    assert (REPO / "src" / "embharness" / "data" / "published" / "SOURCES.md").is_file()


def test_long_table_regenerates_to_the_committed_bytes(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / LONG_FILE).unlink()
    assert builder.main(["build", str(folder)]) == 0
    assert (folder / LONG_FILE).read_bytes() == (published_dir() / LONG_FILE).read_bytes()


def test_loads_paper_and_v3_figures() -> None:
    published = load_published()
    assert len(published.averages[OVERALL_AVG]) == 25
    assert sorted(published.averages[CODE_AVG]) == sorted(PAPER_05B)
    model = "jinaai/jina-code-embeddings-0.5b"
    for task, value in PAPER_05B.items():
        assert published.value(model, task) == value
    assert published.value(model, CODE_AVG) == 78.72
    assert published.value(model, OVERALL_AVG) == 78.41
    assert round(statistics.fmean(PAPER_05B.values()), 2) == 78.72
    notes = published.task_figures(model).set_index("task")["note"]
    assert [notes[t] for t in published.averages[OVERALL_AVG]].count("not in mteb") == 8
    assert published.value("Qwen/Qwen3-Embedding-0.6B", "CosQA") == 37.75
    assert published.for_model("sentence-transformers/all-MiniLM-L6-v2").empty


def test_v3_results_are_points_and_matryoshka_table_parsed() -> None:
    published = load_published()
    rows = published.cell_figures("jinaai/jina-embeddings-v3")
    sts12 = rows[(rows["task"] == "STS12") & (rows["split"] == "test")]
    assert sts12["value"].round(4).tolist() == [82.4384]
    assert set(sts12["revision"]) == {V3_REVISION}
    assert int((rows["note"] == "MTEB(eng, v1)").sum()) == 54
    matryoshka = published.matryoshka("jinaai/jina-embeddings-v3")
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
    _replace(folder / builder.TABLE2_FILE, ",CosQA,nl2code", ",CosQAX,nl2code")
    with pytest.raises(HarnessError, match="CosQAX"):
        builder.build_long(folder)
    _replace(folder / LONG_FILE, ",,CosQA,,,39.25,", ",,CosQAX,,,39.25,")
    with pytest.raises(HarnessError, match="CosQAX"):
        load_published(folder)


def test_unknown_task_in_v3_results_is_an_error(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _replace(folder / builder.V3_RESULTS_FILE, "\nSTS12,", "\nSTS12Typo,")
    with pytest.raises(HarnessError, match="STS12Typo"):
        builder.build_long(folder)
    _replace(folder / LONG_FILE, ",STS12,test,", ",STS12Typo,test,")
    with pytest.raises(HarnessError, match="STS12Typo"):
        load_published(folder)


def test_duplicate_rows_are_errors(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    for name in (builder.V3_RESULTS_FILE, builder.V3_SUMMARY_FILE, LONG_FILE):
        folder = _copy(tmp_path / name)
        path = folder / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join([*lines, lines[1]]) + "\n")
        with pytest.raises(HarnessError, match="duplicate"):
            builder.build_long(folder) if name != LONG_FILE else load_published(folder)


def test_printed_average_must_recompute(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _replace(
        folder / LONG_FILE,
        "jina-code-embeddings-0.5b,,MTEB Code AVG,,,78.72,",
        "jina-code-embeddings-0.5b,,MTEB Code AVG,,,78.9,",
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


FIXTURE = "acme/fixture-embedder"


def test_a_new_models_figures_are_a_data_change_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A made-up model's figures in a copied published folder: compared, no code change."""
    folder = _copy(tmp_path)
    rows = [
        f"{FIXTURE},,CosQA,,,40.0,paper,",
        f"{FIXTURE},,AppsRetrieval,,,50.0,paper,",
        f"{FIXTURE},,STS12,test,default,80.0,mteb-results,",
    ]
    with (folder / LONG_FILE).open("a") as handle:
        handle.write("\n".join(rows) + "\n")
    monkeypatch.setenv(PUBLISHED_ENV, str(folder))
    results = tmp_path / "results"
    write_result(results, FIXTURE, "CosQA", {"test": {"default": 0.402}}, embed_dim=64)
    write_result(results, FIXTURE, "AppsRetrieval", {"test": {"default": 0.49}}, embed_dim=64)
    write_result(results, FIXTURE, "STS12", {"test": {"default": 0.803}}, embed_dim=64)
    files = build_report(results, tmp_path / "reports")
    csv = pd.read_csv(files.csv).set_index("task")
    assert csv.loc["CosQA", "published"] == 40.0 and csv.loc["CosQA", "reference"] == "paper"
    assert csv.loc["CosQA", "delta"] == pytest.approx(0.2)
    assert bool(csv.loc["CosQA", "within_tolerance"]) is True
    assert csv.loc["AppsRetrieval", "delta"] == pytest.approx(-1.0)
    assert bool(csv.loc["AppsRetrieval", "within_tolerance"]) is False
    assert csv.loc["STS12", "reference"] == "mteb-results"
    assert csv.loc["STS12", "delta"] == pytest.approx(0.3)
    markdown = files.markdown.read_text()
    assert "## fixture-embedder vs the MTEB results repository" in markdown
