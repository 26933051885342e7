"""SLURM through submitit: the pending jobs as one job array, requeued on preemption/timeout.

Resuming is free: a requeued job runs the same (model, task) job again, and the runner skips
the cells that finished before the preemption. A job that dies without a result (``kill -9``,
a node failure, the OOM killer) is resubmitted, up to ``max_retries`` times, naming the job it
replaces so it takes over its lease at once; a job whose own code raised is not (it would fail
again) and is reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
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


@dataclass
class Submission:
    """The executor of a launch, and each job's handle beside its spec."""

    executor: Any
    jobs: list[tuple[Any, JobSpec]]


def submit(specs: list[JobSpec], folder: Path, settings: SlurmSettings) -> Submission:
    """Submit the jobs as one array."""
    executor = make_executor(folder, settings)
    handles = executor.map_array(CheckpointableJob(), specs)
    return Submission(executor, list(zip(handles, specs, strict=True)))


def follow(
    submission: Submission, max_retries: int, say: Callable[[str], None]
) -> tuple[list[dict[str, Any]], list[tuple[JobSpec, str]]]:
    """Wait for every job, resubmitting those that died without a result; returns the outcomes
    and the (spec, error first line) failures."""
    uncompleted, failed_error = _errors()
    outcomes: list[dict[str, Any]] = []
    failures: list[tuple[JobSpec, str]] = []
    queue = [(job, spec, 0) for job, spec in submission.jobs]
    while queue:
        job, spec, tries = queue.pop(0)
        try:
            outcomes.extend(job.result())
        except uncompleted as exc:  # FailedJobError: the job's own code raised
            if isinstance(exc, failed_error) or tries >= max_retries:
                failures.append((spec, _error_line(exc)))
                continue
            retry = replace(spec, retry_of=(*spec.retry_of, str(job.job_id)))
            new = submission.executor.submit(CheckpointableJob(), retry)
            say(
                f"job {job.job_id} ({spec.model} × {spec.task}) died without a result "
                f"({job.state}); resubmitted as {new.job_id} (retry {tries + 1}/{max_retries})"
            )
            queue.append((new, retry, tries + 1))
        except Exception as exc:  # any other error of the job: report it
            failures.append((spec, _error_line(exc)))
    return outcomes, failures


def _errors() -> tuple[type[Exception], type[Exception]]:
    utils = _submitit().core.utils
    return utils.UncompletedJobError, utils.FailedJobError


def _error_line(exc: BaseException) -> str:
    """The worker's own error line from submitit's traceback dump."""
    lines = str(exc).strip().splitlines()
    errors = [ln for ln in lines if ln and not ln.startswith((" ", "Traceback", "-"))]
    trace = [ln for ln in errors if not ln.startswith(("Job (task=", "You can check", "or at "))]
    return (trace or errors or [type(exc).__name__])[-1]
