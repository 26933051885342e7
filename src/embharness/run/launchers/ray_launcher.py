"""Ray: each (model, task) job a Ray task with GPU/CPU requests, retried on worker failure."""

from __future__ import annotations

import logging
import os
from typing import Any

from embharness.errors import HarnessError
from embharness.run.launchers.jobs import JobSpec, job_log, run_job
from embharness.run.launchers.settings import RaySettings


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise HarnessError("--launcher ray needs ray", "pip install 'embharness[ray]'") from exc
    return ray


def init(settings: RaySettings) -> Any:
    """Connect to (or start) Ray quietly; returns the ray module."""
    ray = _ray()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
        ray.init(
            address=settings.address,
            num_cpus=settings.num_cpus if settings.address is None else None,
            logging_level=logging.WARNING,
            log_to_driver=False,
            include_dashboard=False,
        )
    return ray


def _worker(spec: JobSpec) -> list[dict[str, Any]]:
    task_id = _ray().get_runtime_context().get_task_id()
    with job_log(spec, task_id):
        return run_job(spec, task_id)


def submit(specs: list[JobSpec], settings: RaySettings) -> list[tuple[Any, JobSpec]]:
    """One Ray task per job; returns each object ref beside its spec."""
    ray = init(settings)
    gpus = settings.gpus_per_job if ray.cluster_resources().get("GPU", 0) else 0
    remote = ray.remote(
        num_gpus=gpus, num_cpus=settings.cpus_per_job, max_retries=settings.max_retries
    )(_worker)
    return [(remote.remote(spec), spec) for spec in specs]


def follow(
    refs: list[tuple[Any, JobSpec]],
) -> tuple[list[dict[str, Any]], list[tuple[JobSpec, str]]]:
    """Wait for every task; returns the outcomes and the (spec, error first line) failures."""
    ray = _ray()
    outcomes: list[dict[str, Any]] = []
    failures: list[tuple[JobSpec, str]] = []
    for ref, spec in refs:
        try:
            outcomes.extend(ray.get(ref))
        except Exception as exc:
            cause = getattr(exc, "cause", None) or exc
            failures.append((spec, (str(cause).strip().splitlines() or [type(cause).__name__])[0]))
    return outcomes, failures
