"""Options shared by the commands that read or write a results folder and the embedding cache."""

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

CACHE_DIR_OPTION = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Embedding cache folder [default: .cache/embeddings].",
)
NO_CACHE_OPTION = click.option(
    "--no-cache", is_flag=True, help="Encode everything; read and write no cache."
)
