"""``embharness diff``: paired comparison of two results folders or model variants."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from embharness.commands.options import RESULTS_OPTION

if TYPE_CHECKING:
    from embharness.gate.diff import Diff

HELP = """Compare every common cell of A and B: Δ = B − A (points), its 95% paired bootstrap
CI, the paired randomization-test p-value and its Holm adjustment, sorted by significance.

\b
A and B are selectors:
  DIR                      every run in the results folder DIR
  [DIR:]MODEL[@VARIANT]    one model variant in DIR (default: --results)
MODEL is org/name, or just name when unique in DIR. VARIANT is `default` (the default run,
also when @VARIANT is left out), an experiment folder name (embed_dim_256, max_samples_300,
embed_dim_64__max_samples_300) or dim=N (every run at embedding dimension N that changes
nothing but the dimension and the sample cap).

\b
Examples:
  embharness diff --results /tmp/r all-MiniLM-L6-v2@default all-MiniLM-L6-v2@embed_dim_256
  embharness diff .cache/ci/results:all-MiniLM-L6-v2@dim=384 \\
      .cache/ci/results:all-MiniLM-L6-v2@dim=64
  embharness diff results-before results-after

Two model variants pair cells by task, split, subset and sample cap; a whole folder on either
side pairs by model, experiment, task, split and subset. Informational: exits 0.
"""


def _write_html(diff: Diff, path: Path) -> None:
    import pandas as pd

    from embharness.atomic import atomic_write_text
    from embharness.gate.diff import (
        display_columns,
        display_rows,
        intro_lines,
        method_line,
        summary,
    )
    from embharness.report.document import Document, Section, Table
    from embharness.report.html import render_html

    frame = pd.DataFrame(display_rows(diff), columns=list(display_columns(diff)))
    section = Section("Paired differences", paragraphs=[*intro_lines(diff), method_line(diff)])
    section.tables = [Table(frame, summary(diff))]
    document = Document(f"embharness diff: {diff.a.label} vs {diff.b.label}", [], [section])
    atomic_write_text(path, render_html(document))


@click.command(help=HELP)
@click.argument("a")
@click.argument("b")
@RESULTS_OPTION
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write diff.csv and a standalone diff.html into this folder.",
)
@click.option(
    "--alpha",
    type=float,
    default=0.05,
    show_default=True,
    help="Significance level for the Holm-adjusted p-values.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Bootstrap resamples and random permutations per cell (fixed seed).",
)
def diff(a: str, b: str, results_dir: Path, out: Path | None, alpha: float, resamples: int) -> None:
    """Paired comparison of two selections (see HELP)."""
    from embharness.gate.diff import build_diff, format_diff, write_csv

    found = build_diff(a, b, results_dir, alpha=alpha, n_resamples=resamples)
    click.echo(format_diff(found))
    if out is not None:
        write_csv(found, out / "diff.csv")
        _write_html(found, out / "diff.html")
        click.echo(f"wrote {out / 'diff.csv'} and {out / 'diff.html'}")
