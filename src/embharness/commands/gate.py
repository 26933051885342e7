"""``embharness gate``: compare results with a committed baseline (heavy imports inside)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from embharness.commands.options import RESULTS_OPTION
from embharness.results.scoring import DEFAULT_TOLERANCE


@click.command()
@click.option(
    "--baseline",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="Baseline JSON (see embharness.gate.baseline for the format, version 3).",
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
@click.option(
    "--mode",
    type=click.Choice(["tolerance", "significance"]),
    default="tolerance",
    show_default=True,
    help="tolerance: a drop beyond --tolerance fails. significance: it fails only when it is "
    "also significant at --alpha (paired randomization test on the per-item scores, "
    "Holm-adjusted over all gated cells); needs a version-2 baseline.",
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
@click.option("--allow-missing", is_flag=True, help="Baseline cells absent from results pass.")
@click.option(
    "--write-baseline",
    is_flag=True,
    help="Create/refresh the baseline (version 3: JSON + per-item files in <stem>.items/).",
)
def gate(
    baseline: Path,
    results_dir: Path,
    tolerance: float,
    tolerances_path: Path | None,
    mode: str,
    alpha: float,
    resamples: int,
    allow_missing: bool,
    write_baseline: bool,
) -> None:
    """Compare results with a baseline; exit 1 on a regression or a missing cell.

    Every cell shows baseline, now, Δ (points), and, where both sides have per-item scores,
    the 95% paired bootstrap CI of Δ, the randomization-test p and its Holm adjustment.
    """
    if write_baseline:
        from embharness.gate.baseline import write_baseline as write

        count = write(results_dir, baseline)
        click.echo(f"wrote baseline {baseline} with {count} cells from {results_dir}")
        return
    from embharness.gate.gate import run_gate

    code = run_gate(
        results_dir, baseline, tolerance, tolerances_path, allow_missing, click.echo,
        mode=mode, alpha=alpha, n_resamples=resamples,
    )  # fmt: skip
    sys.exit(code)
