"""``embharness report``: build the Markdown, HTML and CSV reports and the plots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embharness.atomic import atomic_write_text
from embharness.errors import HarnessError
from embharness.report import plots, v3
from embharness.report.averages import averages_frame
from embharness.report.dims import DimTable, dim_tables
from embharness.report.document import (
    Document,
    Section,
    Table,
    dim_section,
    display,
    subset_section,
)
from embharness.report.html import render_html
from embharness.report.markdown import render_markdown
from embharness.report.published import (
    MTEB_RESULTS,
    PAPER,
    V3_REVISION,
    Published,
    load_published,
)
from embharness.report.results_table import (
    comparison_frame,
    experiment_label,
    run_marks,
    scores_frame,
)
from embharness.report.settings import settings_table
from embharness.report.subsets import subset_tables, subsets_frame
from embharness.results.runs import Run, load_runs
from embharness.results.scoring import DEFAULT_TOLERANCE, check_tolerance

COMPARISON_COLUMNS = ["model", "revision", "experiment", "dim", "task", "ours", "published"]
COMPARISON_COLUMNS += ["reference", "delta", "within_tolerance", "note"]


@dataclass(frozen=True)
class ReportFiles:
    """Where ``build_report`` wrote its outputs."""

    markdown: Path
    html: Path
    csv: Path
    plots: list[Path]
    subsets_csv: Path


def _intro(results_dir: Path, tolerance: float) -> list[str]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"Generated {now} from `{results_dir}`.",
        "Scores are mteb main scores (nDCG@10 for every code retrieval task) × 100. "
        f"Δ = ours − published, in points; ✓ marks |Δ| ≤ {tolerance:g} points. "
        "A missing result is shown as `—` or `missing`, never as 0, and averages over partial "
        "cell sets are marked `partial` and never compared.",
        "Capped quick runs (`max_samples`) are shown but never compared with published figures.",
        "A run in another dtype than the published figures (e.g. float32 on CPU, which the "
        "leaderboard tolerates) is compared but marked in its note and table title; so is a "
        "cell whose prompt the harness chose (see Harness-chosen prompts).",
    ]


def _references(published: Published) -> Section:
    return Section(
        "References",
        paragraphs=[
            f"`{PAPER}`: jina-code-embeddings paper (arXiv 2508.21290v1), Table 2, for "
            + ", ".join(published.paper_models)
            + ".",
            f"`{MTEB_RESULTS}`: the public MTEB results repository "
            f"(embeddings-benchmark/results, jina-embeddings-v3 @ {V3_REVISION[:12]}), averaged "
            "over exactly the split × subset cells of our result.",
            f"Published figures read from `{published.directory}` (see its SOURCES.md).",
        ],
    )


def _comparison_section(comparison: pd.DataFrame, tolerance: float) -> Section:
    compared = comparison[comparison["delta"].notna()]
    inside = int(compared["within_tolerance"].astype(bool).sum())
    summary = (
        f"{len(compared)} task scores compared: {inside} within ±{tolerance:g} points, "
        f"{len(compared) - inside} outside."
    )
    frame = display(comparison[COMPARISON_COLUMNS], tolerance)
    return Section(
        "Scores vs published (full dimension)", paragraphs=[summary], tables=[Table(frame)]
    )


def _v3_sections(runs: list[Run], published: Published, tolerance: float) -> list[Section]:
    if not v3.v3_runs(runs):
        return []
    cells = display(v3.cells_frame(runs, published, tolerance), tolerance)
    categories = display(v3.categories_frame(runs, published, tolerance), tolerance)
    return [
        Section(
            "jina-embeddings-v3 vs the MTEB results repository",
            paragraphs=["Per task × split × subset (main score, points)."],
            tables=[Table(cells)],
        ),
        Section(
            "jina-embeddings-v3 category averages",
            level=3,
            paragraphs=[
                "Our average is computed only where every task of the category is present "
                "(MTEB(eng, v1) cells as the results repository marks them); otherwise it is "
                "shown as partial and not compared."
            ],
            tables=[Table(categories)],
        ),
    ]


def _harness_prompts_section(runs: list[Run]) -> list[Section]:
    """Cells of tasks outside the authors' prompt table, with the harness's choice and why."""
    rows = [
        (r.model, experiment_label(r), r.task, choice)
        for r in runs
        for choice in r.harness_chosen_prompts()
    ]
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["model", "experiment", "task", "harness-chosen prompt"])
    return [
        Section(
            "Harness-chosen prompts",
            paragraphs=[
                "These tasks are outside the authors' prompt table (jina-code-embeddings: the "
                "paper's Table 4b); the harness chose the prompt, for the reason given."
            ],
            tables=[Table(frame)],
        )
    ]


def _others_section(runs: list[Run]) -> list[Section]:
    others = [r for r in runs if r.kind == "other"]
    if not others:
        return []
    rows = [
        (
            r.model,
            r.revision[:12],
            r.experiment,
            r.task,
            f"{100 * r.score():.2f}",
            "; ".join(run_marks(r)),
        )
        for r in others
    ]
    columns = ["model", "revision", "experiment", "task", "ours", "note"]
    frame = pd.DataFrame(rows, columns=columns)
    return [Section("Other experiments", paragraphs=["Not compared."], tables=[Table(frame)])]


def _plots(
    runs: list[Run],
    tables: list[DimTable],
    comparison: pd.DataFrame,
    published: Published,
    folder: Path,
) -> list[plots.Plot]:
    types = {run.task: run.task_type for run in runs}
    made = [plots.scatter(comparison, folder)]
    made += plots.dims_average(tables, types, published, folder)
    made += plots.dims_per_task(tables, comparison, folder)
    return [plot for plot in made if plot is not None]


def build_report(
    results_dir: Path,
    out_dir: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    published: Published | None = None,
) -> ReportFiles:
    """Write ``report.md``, ``report.html``, ``scores.csv``, ``scores_by_subset.csv`` and
    ``plots/`` under ``out_dir``."""
    tolerance = check_tolerance(tolerance)
    runs = load_runs(Path(results_dir))
    if not runs:
        raise HarnessError(f"no results found in {results_dir}", "run an evaluation first")
    published = published or load_published()
    out_dir = Path(out_dir)
    comparison = comparison_frame(runs, published, tolerance)
    tables = dim_tables(runs, published)
    subsets = subset_tables(runs)
    made = _plots(runs, tables, comparison, published, out_dir / "plots")
    settings = settings_table(runs)
    averages = display(averages_frame(runs, published, tolerance), tolerance)
    sections = [
        Section("Run settings", tables=[Table(settings)]),
        _references(published),
        _comparison_section(comparison, tolerance),
        Section("Paper-style averages", tables=[Table(averages)]),
        dim_section(tables),
        subset_section(subsets),
        *_harness_prompts_section(runs),
        *_v3_sections(runs, published, tolerance),
        *_others_section(runs),
        Section("Plots", plots=made),
    ]
    document = Document(
        "Embedding evaluation report", _intro(Path(results_dir), tolerance), sections
    )
    files = ReportFiles(
        out_dir / "report.md",
        out_dir / "report.html",
        out_dir / "scores.csv",
        [p.png for p in made] + [p.svg for p in made],
        out_dir / "scores_by_subset.csv",
    )
    atomic_write_text(files.markdown, render_markdown(document, out_dir))
    atomic_write_text(files.html, render_html(document))
    atomic_write_text(files.csv, scores_frame(runs, published, tolerance).to_csv(index=False))
    atomic_write_text(files.subsets_csv, subsets_frame(subsets).to_csv(index=False))
    return files
