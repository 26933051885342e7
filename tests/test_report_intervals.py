"""Bootstrap CIs in the report: every table, the footnotes, the bands of the dim plots.

Real MiniLM runs (CPU) of HumanEvalRetrievalOffline (164 queries) and a capped
ManpagesCrossLingualRetrieval (6 subsets) at two dims; each expected interval is recomputed
here with ``scipy.stats.bootstrap`` from the per-item parquet file read with pandas.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss
from click.testing import CliRunner
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from test_report_fixtures import run_record
from test_report_fixtures import write_result as write

from embharness.commands.report import report
from embharness.report import plots
from embharness.report.build import build_report
from embharness.report.intervals import DISABLED, NO_FILE, CISettings
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
HUMANEVAL = "HumanEvalRetrievalOffline"
MANPAGES = "ManpagesCrossLingualRetrieval"
METHOD_LINE = "95% CI: BCa bootstrap over 164 queries (10,000 resamples, seed 0); "
METHOD_LINE += "± is half the interval width"
NO_FIT = "scores come from a model fitted on the train split"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("intervals")
    sweep = parse_sweep(
        {
            "settings": {"batch_size": 32},
            "models": [{"name": MINILM, "dims": [384, 64]}],
            "tasks": [HUMANEVAL, {"name": MANPAGES, "max_samples": 20}],
        }
    )
    SweepRunner(sweep, RunOptions(root / "results", root / "cache", show_progress=False)).run()
    return root / "results"


def _build(results: Path, out: Path, ci: CISettings | None = None) -> tuple[Path, list[Figure]]:
    """Build the report; its folder and every figure it drew."""
    figures: list[Figure] = []
    save = plots._save

    def keep(fig: Figure, folder: Path, stem: str, title: str) -> plots.Plot:
        figures.append(fig)
        return save(fig, folder, stem, title)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "_save", keep)
        files = build_report(results, out, ci=ci)
    return files.markdown.parent, figures


@pytest.fixture(scope="module")
def built(results: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Figure]]:
    """The report with the default CI settings (BCa, 10,000 resamples, seed 0)."""
    return _build(results, tmp_path_factory.mktemp("report"))


def _result(results: Path, task: str, experiment: str) -> Path:
    """The result file of the default run (``experiment == ""``) or of an experiment."""
    [path] = [
        p
        for p in results.rglob(f"{task}.json")
        if "_embharness" not in p.parts
        and (p.parent.name == experiment if experiment else p.parent.parent.name != "experiments")
    ]
    return path


def _run(results: Path, task: str, experiment: str = "") -> tuple[float, pd.DataFrame]:
    """mteb's main score (points) and the per-item rows, read without the harness."""
    path = _result(results, task, experiment)
    scores = json.loads(path.read_text())["scores"]
    cells = [entry["main_score"] for entries in scores.values() for entry in entries]
    items = pd.read_parquet(path.parent / "_embharness" / f"{task}.items.parquet")
    return float(np.mean(cells)) * 100, items


def _ci(values: np.ndarray, n: int = 10_000, method: str = "BCa") -> tuple[float, float]:
    found = ss.bootstrap((values,), np.mean, n_resamples=n, method=method,
                         rng=np.random.default_rng(0))  # fmt: skip
    low, high = found.confidence_interval
    return float(low) * 100, float(high) * 100


def _pm(score: float, bounds: tuple[float, float]) -> str:
    return f"{score:.2f} ± {(bounds[1] - bounds[0]) / 2:.2f}"


def _section(markdown: str, title: str) -> str:
    return markdown.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_humaneval_rows_show_score_and_half_the_bootstrap_interval(
    results: Path, built: tuple[Path, list[Figure]]
) -> None:
    out, _ = built
    markdown = (out / "report.md").read_text()
    shown = {}
    for experiment, dim in (("", 384), ("embed_dim_64", 64)):
        score, items = _run(results, HUMANEVAL, experiment)
        assert len(items) == 164
        shown[dim] = _pm(score, _ci(items["ndcg_at_10"].to_numpy()))
    compared = _section(markdown, "Scores vs published (full dimension)")
    assert f"| 384 | {HUMANEVAL} | {shown[384]} | — |" in compared
    general = (  # the table's footnote: HumanEval's 164 queries, the 6 × 20 of the manpages
        "95% CI of each score: BCa bootstrap over its 120–164 queries (10,000 resamples, seed 0, "
        "stratified by split/subset where there are several); ± is half the interval width  \n"
        "Published figures have no CIs"
    )
    assert general in compared
    dims = _section(markdown, "Matryoshka dimensions")
    assert f"| {HUMANEVAL} | {shown[64]} | {shown[384]} |" in dims
    assert f"{METHOD_LINE}  \nAverages over tasks have no CI" in dims  # stats.footnote verbatim
    assert "Averages over tasks have no CI" in _section(markdown, "Paper-style averages")
    html = (out / "report.html").read_text()
    assert f"<td>{shown[384]}</td>" in html and f'<p class="footnote">{METHOD_LINE}' in html


def test_scores_csv_has_the_bounds(results: Path, built: tuple[Path, list[Figure]]) -> None:
    out, _ = built
    csv = pd.read_csv(out / "scores.csv").set_index(["task", "experiment"])
    _, items = _run(results, HUMANEVAL)
    low, high = _ci(items["ndcg_at_10"].to_numpy())
    row = csv.loc[(HUMANEVAL, "default")]
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high), abs=1e-9)
    assert row.ci == f"[{low:.2f}, {high:.2f}]" and row.ci_method == "BCa"


def test_subset_cells_and_the_stratified_task_score(
    results: Path, built: tuple[Path, list[Figure]]
) -> None:
    out, _ = built
    markdown = (out / "report.md").read_text()
    score, items = _run(results, MANPAGES, "max_samples_20")
    # in file order: scipy draws each sample's resamples in turn from the one generator
    by_subset = items.groupby("subset", sort=False)
    groups = {name: g["ndcg_at_10"].to_numpy() for name, g in by_subset}
    assert len(groups) == 6
    scores = json.loads(_result(results, MANPAGES, "max_samples_20").read_text())["scores"]
    mteb = {entry["hf_subset"]: entry["main_score"] * 100 for entry in scores["test"]}
    subsets = _section(markdown, "Per-subset scores")
    for subset, values in groups.items():
        cell = _pm(mteb[subset], _ci(values))
        assert re.search(rf"\| {subset} \| [^|]+ \| {re.escape(cell)} \|", subsets), subset
    assert f"BCa bootstrap over {len(next(iter(groups.values())))} queries" in subsets
    both = ss.bootstrap(
        tuple(groups.values()),
        lambda *parts, axis=-1: np.mean([p.mean(axis=axis) for p in parts], axis=0),
        n_resamples=10_000,
        rng=np.random.default_rng(0),
    )
    low, high = (float(x) * 100 for x in both.confidence_interval)
    task_row = f"| {MANPAGES} | {_pm(score, (low, high))} |"
    assert task_row in _section(markdown, "Scores vs published (full dimension)")
    assert "stratified by 6 split/subset groups" in markdown


def test_dim_plot_draws_the_intervals_as_a_band(
    results: Path, built: tuple[Path, list[Figure]]
) -> None:
    out, figures = built
    [fig] = [f for f in figures if f.axes[0].get_title().startswith(f"{HUMANEVAL}:")]
    [band] = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    for experiment, dim in (("", 384), ("embed_dim_64", 64)):
        _, items = _run(results, HUMANEVAL, experiment)
        low, high = _ci(items["ndcg_at_10"].to_numpy())
        at_dim = vertices[np.isclose(vertices[:, 0], dim), 1]
        assert at_dim.min() == pytest.approx(low) and at_dim.max() == pytest.approx(high)
    [line] = fig.axes[0].get_lines()
    assert line.get_label().endswith("(band: 95% CI)")
    svg = (out / "plots" / f"dims_{HUMANEVAL}.svg").read_text()
    assert 'id="PolyCollection_1"' in svg or 'id="FillBetweenPolyCollection_1"' in svg


def test_resamples_and_method_are_report_options(results: Path, tmp_path: Path) -> None:
    args = ["--results", str(results), "--out", str(tmp_path), "--resamples", "999"]
    out = CliRunner().invoke(report, [*args, "--ci-method", "percentile"])
    assert out.exit_code == 0, out.output
    markdown = (tmp_path / "report.md").read_text()
    score, items = _run(results, HUMANEVAL)
    shown = _pm(score, _ci(items["ndcg_at_10"].to_numpy(), n=999, method="percentile"))
    assert f"| {HUMANEVAL} | {shown} |" in markdown
    assert "95% CI: percentile bootstrap over 164 queries (999 resamples, seed 0)" in markdown
    off = CliRunner().invoke(report, ["--results", str(results), "--out", str(tmp_path / "off"),
                                      "--resamples", "0"])  # fmt: skip
    assert off.exit_code == 0, off.output
    markdown = (tmp_path / "off" / "report.md").read_text()
    assert f"| {HUMANEVAL} | {score:.2f}† |" in markdown and f"† {DISABLED}" in markdown
    assert not re.search(r"\d ± \d", markdown)


def test_a_stale_items_file_is_not_trusted(results: Path, tmp_path: Path) -> None:
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    path = _result(copy, HUMANEVAL, "")
    data = json.loads(path.read_text())
    data["scores"]["test"][0]["main_score"] = 0.5  # as if the result were re-run without items
    path.write_text(json.dumps(data))
    markdown = build_report(copy, tmp_path / "out", ci=CISettings(500)).markdown.read_text()
    assert f"| {HUMANEVAL} | 50.00† |" in markdown
    assert "† per-item file disagrees with the result (stale file?)" in markdown


def test_old_runs_and_task_types_without_items_are_marked(tmp_path: Path) -> None:
    """No items file anywhere: scores alone, each marked with its reason; no band."""
    root = tmp_path / "results"
    reason = {"file": None, "unit": None, "statistic": None, "n_items": 0, "reason": NO_FIT}
    write(root, MINILM, HUMANEVAL, {"test": {"default": 0.66}}, embed_dim=384)
    write(root, MINILM, HUMANEVAL, {"test": {"default": 0.52}}, embed_dim=384,
          kwargs={"embed_dim": 64})  # fmt: skip
    write(root, MINILM, "ToyClassificationOffline", {"test": {"default": 0.8}}, embed_dim=384,
          record=run_record(per_item=reason))  # fmt: skip
    out, figures = _build(root, tmp_path / "out")
    markdown = (out / "report.md").read_text()
    compared = _section(markdown, "Scores vs published (full dimension)")
    assert f"| {HUMANEVAL} | 66.00† |" in compared and f"† {NO_FILE}" in compared
    assert "| ToyClassificationOffline | 80.00‡ |" in compared
    assert f"‡ no per-item scores: {NO_FIT}" in compared
    assert f"| {HUMANEVAL} | 52.00† | 66.00† |" in _section(markdown, "Matryoshka dimensions")
    assert not re.search(r"\d ± \d", markdown.split("## Run settings", 1)[1])
    assert all(
        not any(isinstance(c, PolyCollection) for c in fig.axes[0].collections) for fig in figures
    )
