"""Options shared by the commands that read a results folder."""

from __future__ import annotations

from pathlib import Path

import click

RESULTS_OPTION = click.option(
    "--results",
    "--results-dir",
    "results_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("results"),
    show_default=True,
    help="Results folder (mteb's ResultCache layout; any name).",
)
