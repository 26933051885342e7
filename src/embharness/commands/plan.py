"""``embharness plan``: what a sweep will encode and how long it should take, before it runs."""

from __future__ import annotations

import sys
from pathlib import Path

import click

# Kept in step with embharness.run.plan.TOKENS_PER_S (imported lazily: mteb and torch are heavy).
DEFAULT_TOKENS_PER_S = 39_000.0


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option(
    "--tokens-per-s",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TOKENS_PER_S,
    show_default=True,
    help="Encoding throughput for the GPU-time estimate. The default is the harness's measured "
    "fp16 throughput at batch 32 for jina-code-embeddings-0.5b on an H100 (issue 11).",
)
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Results folder whose finished cells are marked done.",
)
def plan(sweep_file: Path, tokens_per_s: float, results_dir: Path) -> None:
    """Print SWEEP_FILE's texts, estimated tokens and GPU time per model × task (loads no model)."""
    from embharness.run.console import configure_console
    from embharness.run.plan import plan_lines, plan_sweep
    from embharness.run.sweep import load_sweep

    configure_console(verbose=False, quiet=True, is_tty=sys.stderr.isatty())
    for line in plan_lines(plan_sweep(load_sweep(sweep_file), results_dir), tokens_per_s):
        click.echo(line)
