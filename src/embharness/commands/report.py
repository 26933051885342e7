"""``embharness report``: the Markdown, HTML and CSV reports (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path

import click

from embharness.commands.options import RESULTS_OPTION
from embharness.results.scoring import DEFAULT_TOLERANCE

CI_METHODS = ("BCa", "percentile")  # results.stats.METHODS, without importing scipy here


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
@click.option(
    "--resamples",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Bootstrap resamples per 95% CI of our scores (0: no CIs).",
)
@click.option(
    "--ci-method",
    type=click.Choice(CI_METHODS),
    default="BCa",
    show_default=True,
    help="Bootstrap interval: BCa (falls back to percentile where undefined) or percentile.",
)
def report(results_dir: Path, out: Path, tolerance: float, resamples: int, ci_method: str) -> None:
    """Write report.md, report.html, scores.csv, scores_by_subset.csv and plots/."""
    from embharness.report.build import build_report
    from embharness.report.intervals import CISettings

    ci = CISettings(n_resamples=resamples, method=ci_method)
    files = build_report(results_dir, out, tolerance, ci=ci)
    click.echo(
        f"wrote {files.markdown}, {files.html}, {files.csv}, {files.subsets_csv} "
        f"and {len(files.plots)} plot files"
    )
