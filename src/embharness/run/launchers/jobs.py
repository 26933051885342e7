"""The unit of work of every launcher: one (model, task) job, run in whatever process."""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embharness.run.leases import DEFAULT_TIMEOUT_S, job_key
from embharness.run.options import CellOutcome, RunOptions
from embharness.run.runner import SweepRunner
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
    retry_of: tuple[str, ...] = ()  # job ids this job replaces (a resubmission after a crash)


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
        spec.options.results_dir,
        spec.options.cache_dir,
        spec.options.overwrite,
        show_progress=False,
        lease_timeout_s=spec.lease_timeout_s,
    )
    runner = SweepRunner(spec.sweep, options)
    # A lease under this very job id is this job's own earlier, killed attempt (Ray retries a
    # task under its id; SLURM requeues keep the job id).
    retry_of = frozenset(i for i in (job_id, *spec.retry_of) if i)
    outcomes = runner.run_job(spec.model, spec.task, spec.launcher, job_id, retry_of)
    return [_plain(o) for o in outcomes]


def _plain(outcome: CellOutcome) -> dict[str, Any]:
    return {
        "model": outcome.model,
        "task": outcome.task,
        "dim": outcome.dim,
        "status": outcome.status,
        "main_score": outcome.main_score,
    }


@contextlib.contextmanager
def job_log(spec: JobSpec, job_id: str | None) -> Iterator[Path]:
    """A job's own log file in the shared results folder, for engines whose worker logs stay
    on the worker (Ray): the job's log lines, and its traceback if it fails. Failure files
    name it (``EMBHARNESS_LOG``)."""
    folder = Path(spec.options.results_dir) / "_embharness" / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job_key(spec.model, spec.task)}-{(job_id or str(os.getpid()))[:16]}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, before = logging.getLogger(), os.environ.get("EMBHARNESS_LOG")
    root.addHandler(handler)
    os.environ["EMBHARNESS_LOG"] = str(path)
    try:
        yield path
    except Exception:
        handler.flush()
        with path.open("a") as log_file:
            log_file.write(traceback.format_exc())
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
        if before is None:
            os.environ.pop("EMBHARNESS_LOG", None)
        else:
            os.environ["EMBHARNESS_LOG"] = before
