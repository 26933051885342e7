"""``embharness status``: per cell done / running / failed / pending, from the results folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from embharness.run.leases import DEFAULT_TIMEOUT_S, is_stale, read_failure, read_lease


def _since(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def cell_states(sweep_file: Path, results_dir: Path) -> list[tuple[str, str, int, str, str]]:
    """(model, task, dim, state, detail) for every float32 cell of the sweep."""
    from embharness.run.options import RunOptions
    from embharness.run.runner import SweepRunner
    from embharness.run.sweep import load_sweep

    runner = SweepRunner(load_sweep(sweep_file), RunOptions(results_dir, None, show_progress=False))
    rows = []
    for model in runner.models:
        for task in runner.sweep.tasks:
            name, tname = model.spec.name, task.name
            lease = read_lease(results_dir, name, tname)
            failure = read_failure(results_dir, name, tname)
            for dim in model.dims:
                record = runner.store.read_record(runner.cell_meta(model, task, dim), tname)
                if record is not None and record.get("main_score") is not None:
                    state, detail = "done", f"{float(record['main_score']):.4f}"
                elif lease is not None and not is_stale(lease, DEFAULT_TIMEOUT_S):
                    state = "running"
                    detail = f"{lease.get('host')} pid {lease.get('pid')} since "
                    detail += _since(float(lease.get("started", 0)))
                elif failure is not None:
                    state, detail = "failed", f"{failure.get('error')} (log: {failure.get('log')})"
                else:
                    state, detail = "pending", ""
                rows.append((name, tname, dim, state, detail))
    return rows


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option(
    "--results-dir",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="The shared results folder the sweep writes to.",
)
def status(sweep_file: Path, results_dir: Path) -> None:
    """Show every cell of SWEEP_FILE: done (score), running (host, since), failed, pending."""
    rows = cell_states(sweep_file, results_dir)
    click.echo(f"{'model':45} {'task':34} {'dim':>5}  {'state':8} detail")
    for model, task, dim, state, detail in rows:
        click.echo(f"{model:45} {task:34} {dim:>5}  {state:8} {detail}")
    counts = {
        s: sum(1 for r in rows if r[3] == s) for s in ("done", "running", "failed", "pending")
    }
    click.echo(f"total {len(rows)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
