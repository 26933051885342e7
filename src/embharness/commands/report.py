"""``embharness report``: the Markdown, HTML and CSV reports (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path

import click

from embharness.commands.options import RESULTS_OPTION
from embharness.results.scoring import DEFAULT_TOLERANCE


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
