"""``embharness tasks``: the tasks of a sweep file."""

from __future__ import annotations

from pathlib import Path

import click

from embharness.run.sweep import load_sweep


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
def tasks(sweep_file: Path) -> None:
    """List the tasks of SWEEP_FILE with their type, dataset revision and splits."""
    from embharness.run.cells import check_tasks
    from embharness.tasks.registry import get_task

    sweep = load_sweep(sweep_file)
    check_tasks(sweep.tasks)
    for entry in sweep.tasks:
        meta = get_task(entry.name).metadata
        dataset = meta.dataset or {}
        click.echo(
            f"{entry.name:40} {meta.type:18} {dataset.get('path', '')}@"
            f"{str(dataset.get('revision', ''))[:12]}  splits={','.join(meta.eval_splits)}"
        )
