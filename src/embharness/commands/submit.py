"""``embharness submit``: export results for the public MTEB results repository."""

from __future__ import annotations

from pathlib import Path

import click

from embharness.commands.options import RESULTS_OPTION


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
    from embharness.results.export import export_submission, format_submission

    click.echo(format_submission(export_submission(model, out, results_dir, allow_partial)))
