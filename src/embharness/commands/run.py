"""``embharness run``: the runner (torch, mteb) is imported only after the input checks pass."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from embharness.commands.options import CACHE_DIR_OPTION, NO_CACHE_OPTION, RESULTS_OPTION
from embharness.paths import embedding_cache_dir
from embharness.run.console import configure_console
from embharness.run.options import OVERWRITE_MODES, CellOutcome, RunOptions
from embharness.run.score_pool import auto_workers, pool_useful, start_forkserver
from embharness.run.sweep import load_sweep

if TYPE_CHECKING:
    from embharness.run.runner import SweepRunner


def _split_csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _score_of(runner: SweepRunner, outcome: CellOutcome) -> float | None:
    if outcome.main_score is not None:
        return outcome.main_score
    model = next(m for m in runner.models if m.spec.name == outcome.model)
    task = next(t for t in runner.sweep.tasks if t.name == outcome.task)
    record = runner.store.read_record(runner.cell_meta(model, task, outcome.dim), outcome.task)
    score = (record or {}).get("main_score")
    return float(score) if score is not None else None


def _print_table(runner: SweepRunner, outcomes: list[CellOutcome]) -> None:
    from embharness.tasks.registry import get_task

    metrics = {t.name: get_task(t.name).metadata.main_score for t in runner.sweep.tasks}
    click.echo(f"{'model':45} {'task':34} {'dim':>5} {'metric':>14} {'score':>7}  status")
    for outcome in outcomes:
        score = _score_of(runner, outcome)
        shown = f"{score:.4f}" if score is not None else "—"
        click.echo(
            f"{outcome.model:45} {outcome.task:34} {outcome.dim:>5} "
            f"{metrics[outcome.task]:>14} {shown:>7}  {outcome.status}"
        )


@click.command()
@click.argument("sweep_file", type=click.Path(path_type=Path))
@click.option("--models", help="Comma-separated model names to run (default: all in the sweep).")
@click.option("--tasks", help="Comma-separated task names to run (default: all in the sweep).")
@click.option("--group", help="Run only this task group of the sweep (e.g. STS).")
@click.option("--languages", help="Comma-separated ISO 639-3 codes to keep (e.g. deu,fra).")
@click.option("--dims", help="Comma-separated Matryoshka dims, replacing the sweep's.")
@RESULTS_OPTION
@CACHE_DIR_OPTION
@NO_CACHE_OPTION
@click.option(
    "--overwrite",
    type=click.Choice(OVERWRITE_MODES),
    default="missing",
    show_default=True,
    help="missing: resume; always: recompute; never: keep any file.",
)
@click.option("--adapter", help="A peft LoRA adapter folder to apply to every model.")
@click.option("--merge-adapter", is_flag=True, help="Merge --adapter into the weights.")
@click.option("--from", "from_path", help="Local weights for the (single) selected model.")
@click.option(
    "--code-revision",
    help="Commit of remote modeling code kept in another repository (jina-embeddings-v3).",
)
@click.option(
    "--max-batch-tokens",
    type=click.IntRange(min=1),
    default=None,
    help="Cap each batch's padded tokens (longest text × rows); batch_size stays the row cap.",
)
@click.option(
    "--launcher",
    type=click.Choice(["local", "slurm", "ray"]),
    default=None,
    help="Where the (model, task) jobs run [default: the sweep's launcher: block, else local].",
)
@click.option("--wait/--no-wait", default=True, help="slurm: follow the job array to its end.")
@click.option("--partition", help="slurm: the partition.")
@click.option("--gpus-per-job", type=float, default=None, help="slurm/ray: GPUs per job.")
@click.option("--time-limit", type=int, default=None, help="slurm: minutes per job.")
@click.option("--mem-gb", type=int, default=None, help="slurm: memory per job (GiB).")
@click.option("--array-parallelism", type=int, default=None, help="slurm: concurrent jobs cap.")
@click.option("--address", default=None, help="ray: cluster address (auto) [default: local].")
@click.option("--lease-timeout", type=float, default=None, help="Seconds before a lease is stale.")
@click.option(
    "--score-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes that score a job's cache-served cells (smaller dims, grid points) while "
    "the next job encodes; 0: all in this process [default: one per core beside this one, 1-4].",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--verbose", is_flag=True, help="Also show mteb's own progress bars, warnings and log lines."
)
def run(
    sweep_file: Path,
    models: str | None,
    tasks: str | None,
    group: str | None,
    languages: str | None,
    dims: str | None,
    results_dir: Path,
    cache_dir: Path | None,
    no_cache: bool,
    overwrite: str,
    adapter: str | None,
    merge_adapter: bool,
    from_path: str | None,
    code_revision: str | None,
    max_batch_tokens: int | None,
    launcher: str | None,
    wait: bool,
    partition: str | None,
    gpus_per_job: float | None,
    time_limit: int | None,
    mem_gb: int | None,
    array_parallelism: int | None,
    address: str | None,
    lease_timeout: float | None,
    score_workers: int | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Run SWEEP_FILE: every model × task × dim cell through mteb, resuming finished ones."""
    from embharness.errors import HarnessError
    from embharness.run.select import filter_sweep, with_overrides

    try:
        dim_list = [int(d) for d in _split_csv(dims) or []] if dims else None
    except ValueError as exc:
        raise HarnessError(f"--dims must be integers, got {dims!r}", "e.g. --dims 64,128") from exc
    sweep = filter_sweep(
        load_sweep(sweep_file),
        _split_csv(models),
        _split_csv(tasks),
        dim_list,
        group,
        _split_csv(languages),
    )
    sweep = with_overrides(
        sweep, from_path, adapter, merge_adapter, code_revision, max_batch_tokens
    )
    from embharness.run.launchers.settings import launch_settings

    settings = launch_settings(
        sweep,
        launcher,
        wait=wait,
        partition=partition,
        gpus_per_job=gpus_per_job,
        time_limit=time_limit,
        mem_gb=mem_gb,
        array_parallelism=array_parallelism,
        address=address,
        lease_timeout=lease_timeout,
    )
    workers = auto_workers() if score_workers is None else score_workers
    if workers and not no_cache and settings.launcher == "local" and pool_useful(sweep):
        start_forkserver()  # its imports, beside this process's own (configure_console's)
    options = RunOptions(
        results_dir,
        None if no_cache else (cache_dir or embedding_cache_dir()),
        overwrite,
        show_progress=configure_console(verbose, quiet, sys.stderr.isatty()),
        lease_timeout_s=settings.lease_timeout_s,
        score_workers=workers,
        verbose=verbose,
    )
    from embharness.run.runner import SweepRunner

    runner = SweepRunner(sweep, options)
    if settings.launcher == "local":
        _print_table(runner, runner.run())
        return
    from embharness.run.launchers.base import launch

    result = launch(runner, settings, lambda line: click.echo(line, err=True))
    _print_launch(result)


def _print_launch(result: object) -> None:
    """The outcome table of a launch, then its failures; exit 1 when any job failed."""
    for o in getattr(result, "outcomes", []):
        score = f"{o['main_score']:.4f}" if o["main_score"] is not None else "—"
        click.echo(f"{o['model']:45} {o['task']:34} {o['dim']:>5} {score:>7}  {o['status']}")
    failures = getattr(result, "failures", [])
    for line in failures:
        click.echo(f"FAILED {line}", err=True)
    if failures:
        click.echo(f"{len(failures)} job(s) failed", err=True)
        sys.exit(1)
