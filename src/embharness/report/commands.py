"""Click commands ``report``, ``gate`` and ``submit`` (heavy imports happen inside them)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from embharness.report.scoring import DEFAULT_TOLERANCE

RESULTS_OPTION = click.option(
    "--results",
    "--results-dir",
    "results_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("results"),
    show_default=True,
    help="Results folder (named 'results', mteb's cache layout).",
)


@click.command()
@RESULTS_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("reports"),
    show_default=True,
    help="Folder for the report files.",
)
@click.option(
    "--tolerance",
    type=float,
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Within-tolerance mark: |ours − published| ≤ this many points.",
)
def report(results_dir: Path, out: Path, tolerance: float) -> None:
    """Write report.md, report.html, scores.csv, scores_by_subset.csv and plots/."""
    from embharness.report.build import build_report

    files = build_report(results_dir, out, tolerance)
    click.echo(
        f"wrote {files.markdown}, {files.html}, {files.csv}, {files.subsets_csv} "
        f"and {len(files.plots)} plot files"
    )


@click.command()
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Baseline JSON (see embharness.report.baseline for the format).",
)
@RESULTS_OPTION
@click.option(
    "--tolerance",
    type=float,
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Allowed drop in points (main score × 100) per cell.",
)
@click.option(
    "--tolerances",
    "tolerances_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML/JSON mapping task name → tolerance in points.",
)
@click.option("--allow-missing", is_flag=True, help="Baseline cells absent from results pass.")
@click.option("--write-baseline", is_flag=True, help="Create/refresh the baseline from results.")
def gate(
    baseline: Path,
    results_dir: Path,
    tolerance: float,
    tolerances_path: Path | None,
    allow_missing: bool,
    write_baseline: bool,
) -> None:
    """Compare results with a baseline; exit 1 on a regression or a missing cell."""
    if write_baseline:
        from embharness.report.baseline import write_baseline as write

        count = write(results_dir, baseline)
        click.echo(f"wrote baseline {baseline} with {count} cells from {results_dir}")
        return
    from embharness.report.gate import run_gate

    code = run_gate(results_dir, baseline, tolerance, tolerances_path, allow_missing, click.echo)
    sys.exit(code)


@click.command()
@click.option("--model", required=True, help="Model name, e.g. jinaai/jina-code-embeddings-0.5b.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Export folder; results land in OUT/results/<org__model>/<revision>/.",
)
@RESULTS_OPTION
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Export even when a touched mteb benchmark or task is incomplete.",
)
def submit(model: str, out: Path, results_dir: Path, allow_partial: bool) -> None:
    """Export a model's default results in the public MTEB results repository layout."""
    from embharness.report.submit import export_submission, format_submission

    click.echo(format_submission(export_submission(model, out, results_dir, allow_partial)))
