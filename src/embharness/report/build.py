"""``embharness report``: build the Markdown, HTML and CSV reports and the plots."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from embharness.atomic import atomic_write_text
from embharness.errors import HarnessError
from embharness.report import categories, plots
from embharness.report.ann_table import ann_section
from embharness.report.annotate import TableNotes, ci_columns
from embharness.report.averages import averages_frame
from embharness.report.dims import DimTable, dim_tables
from embharness.report.document import (
    MISSING,
    Document,
    Section,
    Table,
    dim_section,
    display,
    subset_section,
)
from embharness.report.html import render_html
from embharness.report.intervals import CISettings, Intervals
from embharness.report.markdown import render_markdown
from embharness.report.published import MTEB_RESULTS, Published, load_published
from embharness.report.results_table import comparison_frame, scores_frame
from embharness.report.retention import retention_section
from embharness.report.settings import settings_table
from embharness.report.subsets import subset_tables, subsets_frame
from embharness.results.frame import runs_frame, task_frame
from embharness.results.runs import Run, RunKind, load_runs
from embharness.results.scoring import DEFAULT_TOLERANCE, check_tolerance

COMPARISON_COLUMNS = ["model", "revision", "experiment", "dim", "task", "ours", "published"]
COMPARISON_COLUMNS += ["reference", "delta", "within_tolerance", "note"]
NO_CI_AVERAGES = TableNotes(None).footnote(published=True, averages=True)


@dataclass(frozen=True)
class ReportFiles:
    """Where ``build_report`` wrote its outputs."""

    markdown: Path
    html: Path
    csv: Path
    plots: list[Path]
    subsets_csv: Path


def _ci_text(settings: CISettings) -> str:
    if not settings.enabled:
        return "Confidence intervals were not computed (`--resamples 0`)."
    return (
        f"`66.50 ± 3.60`: our score ± half its {settings.confidence:.0%} bootstrap confidence "
        f"interval ({settings.method}, {settings.n_resamples:,} resamples of the task's queries, "
        f"pairs or sentences, seed {settings.seed}); each table's footnote states the method "
        "and why a score has no interval (†, ‡…). Published figures and averages have none."
    )


def _intro(results_dir: Path, tolerance: float, settings: CISettings) -> list[str]:
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
        _ci_text(settings),
    ]


def _references(published: Published) -> Section:
    return Section(
        "References",
        paragraphs=[
            *(f"`{source}`: {text}" for source, text in published.references.items()),
            f"Published figures read from `{published.directory}` (see its SOURCES.md).",
        ],
    )


def _comparison_section(
    comparison: pd.DataFrame, tolerance: float, intervals: Intervals
) -> Section:
    compared = comparison[comparison["delta"].notna()]
    inside = int(compared["within_tolerance"].astype(bool).sum())
    summary = (
        f"{len(compared)} task scores compared: {inside} within ±{tolerance:g} points, "
        f"{len(compared) - inside} outside."
    )
    notes = TableNotes(intervals)
    frame = display(notes.ours(comparison[COMPARISON_COLUMNS]), tolerance)
    table = Table(frame, notes=notes.footnote(published=True))
    return Section("Scores vs published (full dimension)", paragraphs=[summary], tables=[table])


def _averages_section(cells: pd.DataFrame, published: Published, tolerance: float) -> Section:
    averages = display(averages_frame(cells, published, tolerance), tolerance)
    return Section("Paper-style averages", tables=[Table(averages, notes=NO_CI_AVERAGES)])


def _cell_sections(
    cells: pd.DataFrame, published: Published, tol: float, intervals: Intervals
) -> list[Section]:
    sections = []
    for model in categories.cell_models(cells, published):
        name = model.split("/")[-1]
        source = published.cell_figures(model).iloc[0]["source"]
        versus = "the MTEB results repository" if source == MTEB_RESULTS else source
        notes = TableNotes(intervals)
        rows = display(categories.cells_frame(cells, published, tol, model, notes), tol)
        averages = display(categories.categories_frame(cells, published, tol, model), tol)
        sections.append(
            Section(
                f"{name} vs {versus}",
                paragraphs=["Per task × split × subset (main score, points)."],
                tables=[Table(rows, notes=notes.footnote(published=True))],
            )
        )
        sections.append(
            Section(
                f"{name} category averages",
                level=3,
                paragraphs=[
                    "Our average is computed only where every task of the category is present "
                    "(MTEB(eng, v1) cells as the results repository marks them); otherwise it "
                    "is shown as partial and not compared."
                ],
                tables=[Table(averages, notes=NO_CI_AVERAGES)],
            )
        )
    return sections


def _harness_prompts_section(runs: list[Run]) -> list[Section]:
    """Cells of tasks outside the authors' prompt table, with the harness's choice and why."""
    rows = [
        (r.model, r.label, r.task, choice) for r in runs for choice in r.harness_chosen_prompts()
    ]
    if not rows:
        return []
    frame = pd.DataFrame(rows, columns=["model", "experiment", "task", "harness-chosen prompt"])
    return [
        Section(
            "Harness-chosen prompts",
            paragraphs=[
                "These tasks are outside the authors' prompt table (the model's published task "
                "table); the harness chose the prompt, for the reason given."
            ],
            tables=[Table(frame)],
        )
    ]


def _others_section(cells: pd.DataFrame, intervals: Intervals) -> list[Section]:
    tasks = task_frame(cells[cells["kind"] == RunKind.OTHER])
    if tasks.empty:
        return []
    notes = TableNotes(intervals)
    frame = pd.DataFrame(
        {
            "model": tasks["model"],
            "revision": tasks["revision"].str[:12],
            "experiment": tasks["experiment"],
            "task": tasks["task"],
            "ours": notes.ours(tasks, "score")["score"].fillna(MISSING),
            "note": tasks["marks"],
        }
    )
    table = Table(frame, notes=notes.footnote())
    return [Section("Other experiments", paragraphs=["Not compared."], tables=[table])]


def _plots(
    runs: list[Run],
    tables: list[DimTable],
    comparison: pd.DataFrame,
    published: Published,
    folder: Path,
    intervals: Intervals,
) -> list[plots.Plot]:
    types = {run.task: run.task_type for run in runs}
    made = [plots.scatter(comparison, folder)]
    made += plots.dims_average(tables, types, published, folder)
    made += plots.dims_per_task(tables, comparison, folder, intervals)
    return [plot for plot in made if plot is not None]


def build_report(
    results_dir: Path,
    out_dir: Path,
    tolerance: float = DEFAULT_TOLERANCE,
    published: Published | None = None,
    ci: CISettings | None = None,
) -> ReportFiles:
    """Write ``report.md``, ``report.html``, ``scores.csv``, ``scores_by_subset.csv`` and
    ``plots/`` under ``out_dir``.

    ``ci`` says how our scores' bootstrap CIs are made (default: BCa, 10,000 resamples, seed
    0; ``CISettings(n_resamples=0)``: none); each is computed once, when a table first shows it.
    """
    tolerance = check_tolerance(tolerance)
    runs = load_runs(Path(results_dir))
    if not runs:
        raise HarnessError(f"no results found in {results_dir}", "run an evaluation first")
    published = published or load_published()
    out_dir = Path(out_dir)
    ci = ci or CISettings()
    intervals = Intervals(runs, ci)
    if ci.enabled:
        shown_by_cell = [r for r in runs if r.kind in (RunKind.FULL, RunKind.DIM)]
        intervals.prefetch(runs, cells_of=shown_by_cell)
    cells = runs_frame(runs)
    comparison = comparison_frame(cells, published, tolerance)
    tables = dim_tables(cells, published)
    subsets = subset_tables(cells)
    made = _plots(runs, tables, comparison, published, out_dir / "plots", intervals)
    settings = settings_table(runs)
    sections = [
        Section("Run settings", tables=[Table(settings)]),
        _references(published),
        _comparison_section(comparison, tolerance, intervals),
        _averages_section(cells, published, tolerance),
        dim_section(tables, intervals),
        subset_section(subsets, intervals),
        *_harness_prompts_section(runs),
        *_cell_sections(cells, published, tolerance, intervals),
        *_others_section(cells, intervals),
        *retention_section(runs, out_dir / "plots"),
        *ann_section(runs, Path(results_dir)),
        Section("Plots", plots=made),
    ]
    intro = _intro(Path(results_dir), tolerance, ci)
    document = Document("Embedding evaluation report", intro, sections)
    files = ReportFiles(
        out_dir / "report.md",
        out_dir / "report.html",
        out_dir / "scores.csv",
        [p.png for p in made] + [p.svg for p in made],
        out_dir / "scores_by_subset.csv",
    )
    atomic_write_text(files.markdown, render_markdown(document, out_dir))
    atomic_write_text(files.html, render_html(document))
    scores = ci_columns(scores_frame(cells, published, tolerance), intervals)
    atomic_write_text(files.csv, scores.to_csv(index=False))
    atomic_write_text(files.subsets_csv, subsets_frame(subsets).to_csv(index=False))
    return files
