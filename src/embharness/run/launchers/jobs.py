"""The unit of work of every launcher: one (model, task) job, run in whatever process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embharness.run.leases import DEFAULT_TIMEOUT_S
from embharness.run.runner import CellOutcome, RunOptions, SweepRunner
from embharness.run.sweep import Sweep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs to run one (model, task) job; picklable."""

    sweep: Sweep
    options: RunOptions
    model: str
    task: str
    launcher: str
    lease_timeout_s: float = DEFAULT_TIMEOUT_S


def job_is_done(runner: SweepRunner, model_name: str, task_name: str) -> bool:
    """Whether every float32 cell of a job is already in the results (the resume rule)."""
    model, task = runner.find_job(model_name, task_name)
    splits = runner.tasks.splits(task)
    return all(
        runner._should_skip(runner.cell_meta(model, task, dim), task, splits) for dim in model.dims
    )


def all_jobs(runner: SweepRunner) -> list[tuple[str, str]]:
    """Every (model, task) job of the sweep, in sweep order."""
    return [(m.spec.name, t.name) for m in runner.models for t in runner.sweep.tasks]


def pending_jobs(runner: SweepRunner) -> list[tuple[str, str]]:
    """The jobs with at least one cell still to compute."""
    return [job for job in all_jobs(runner) if not job_is_done(runner, *job)]


def run_job(spec: JobSpec, job_id: str | None = None) -> list[dict[str, Any]]:
    """Run one job in this process; returns its outcomes as plain dicts (picklable)."""
    options = RunOptions(
        spec.options.results_dir, spec.options.cache_dir, spec.options.overwrite, False
    )
    runner = SweepRunner(spec.sweep, options)
    outcomes = runner.run_job(spec.model, spec.task, spec.launcher, job_id, spec.lease_timeout_s)
    return [_plain(o) for o in outcomes]


def _plain(outcome: CellOutcome) -> dict[str, Any]:
    return {
        "model": outcome.model,
        "task": outcome.task,
        "dim": outcome.dim,
        "status": outcome.status,
        "main_score": outcome.main_score,
    }


def results_path(options: RunOptions) -> Path:
    """The shared results folder of a launch."""
    return Path(options.results_dir)
