"""SLURM through submitit: the pending jobs as one job array, requeued on preemption/timeout.

Resuming is free: a requeued job runs the same (model, task) job again, and the runner skips
the cells that finished before the preemption.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from embharness.errors import HarnessError
from embharness.run.launchers.jobs import JobSpec, run_job
from embharness.run.launchers.settings import SlurmSettings


def _submitit() -> Any:
    try:
        import submitit
    except ImportError as exc:
        raise HarnessError(
            "--launcher slurm needs submitit", "pip install 'embharness[slurm]'"
        ) from exc
    return submitit


class CheckpointableJob:
    """A submitit callable that asks to be requeued (same arguments) on preemption/timeout."""

    def __call__(self, spec: JobSpec) -> list[dict[str, Any]]:
        """Run the job, naming the SLURM (or local) job id in its lease and records."""
        submitit = _submitit()
        try:
            env = submitit.JobEnvironment()
            job_id = str(env.job_id)
            os.environ.setdefault("EMBHARNESS_LOG", str(env.paths.stderr))
        except RuntimeError:
            job_id = None
        return run_job(spec, job_id)

    def checkpoint(self, spec: JobSpec) -> Any:
        """Requeue with the same job: finished cells are skipped on resume."""
        return _submitit().helpers.DelayedSubmission(self, spec)


def make_executor(folder: Path, settings: SlurmSettings) -> Any:
    """A ``SlurmExecutor`` with the settings' resources, or submitit's ``LocalExecutor`` (real
    subprocesses on this machine) for ``cluster: local``."""
    submitit = _submitit()
    if settings.cluster == "local":
        local = submitit.LocalExecutor(folder=str(folder))
        local.update_parameters(timeout_min=settings.time_min, tasks_per_node=1)
        return local
    executor = submitit.SlurmExecutor(folder=str(folder))
    params: dict[str, Any] = {
        "time": settings.time_min,
        "mem": f"{settings.mem_gb}GB",
        "cpus_per_task": settings.cpus_per_job,
        "gpus_per_node": settings.gpus_per_job,
        "ntasks_per_node": 1,
        "array_parallelism": settings.array_parallelism,
    }
    if settings.partition:
        params["partition"] = settings.partition
    executor.update_parameters(**params)
    return executor


def submit(specs: list[JobSpec], folder: Path, settings: SlurmSettings) -> list[Any]:
    """Submit the jobs as one array; returns submitit's job handles."""
    executor = make_executor(folder, settings)
    return list(executor.map_array(CheckpointableJob(), specs))


def follow(jobs: list[Any]) -> tuple[list[dict[str, Any]], list[tuple[JobSpec, str]]]:
    """Wait for every job; returns the outcomes and the (job, error first line) failures."""
    outcomes: list[dict[str, Any]] = []
    failures: list[tuple[Any, str]] = []
    for job in jobs:
        try:
            outcomes.extend(job.result())
        except Exception as exc:  # submitit re-raises the worker's error here
            lines = str(exc).strip().splitlines()
            failures.append((job, _last_error_line(lines) or type(exc).__name__))
    return outcomes, failures


def _last_error_line(lines: list[str]) -> str:
    """The worker's own error line from submitit's traceback dump."""
    errors = [ln for ln in lines if ln and not ln.startswith((" ", "Traceback"))]
    return errors[-1] if errors else ""
