"""Dispatch a sweep's pending (model, task) jobs to a launcher and summarise the outcome."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embharness.errors import HarnessError
from embharness.run.launchers import LAUNCHERS
from embharness.run.launchers.jobs import JobSpec, pending_jobs
from embharness.run.launchers.settings import LaunchSettings
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner


@dataclass
class LaunchResult:
    """What a launch did: per-cell outcomes (dicts), failed jobs, and the job ids submitted."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


def launch(
    runner: SweepRunner, settings: LaunchSettings, say: Callable[[str], None]
) -> LaunchResult:
    """Send every pending job of ``runner``'s sweep to ``settings.launcher``."""
    if settings.launcher not in LAUNCHERS:
        raise HarnessError(
            f"unknown launcher {settings.launcher!r}", f"use one of {', '.join(LAUNCHERS)}"
        )
    runner.store.check_writable()
    _check_one_entry_per_model(runner)
    jobs = pending_jobs(runner)
    options = absolute_paths(runner.options)
    specs = [
        JobSpec(runner.sweep, options, m, t, settings.launcher, settings.lease_timeout_s)
        for m, t in jobs
    ]
    say(f"{len(specs)} pending (model, task) jobs on launcher {settings.launcher}")
    if not specs:
        return LaunchResult()
    if settings.launcher == "slurm":
        return _slurm(specs, runner.options.results_dir, settings, say)
    return _ray(specs, settings)


def _check_one_entry_per_model(runner: SweepRunner) -> None:
    """Jobs are keyed by (model name, task): a model listed twice (say once per chunking mode)
    would run its first entry twice."""
    names = [m.spec.name for m in runner.models]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise HarnessError(
            f"the sweep lists {', '.join(twice)} more than once, and launcher jobs are keyed by "
            "model name",
            "run this sweep with --launcher local, or split it into one sweep per entry",
        )


def absolute_paths(options: RunOptions) -> RunOptions:
    """The options with absolute folders: workers (Ray's above all) run in other directories."""
    cache = Path(options.cache_dir).resolve() if options.cache_dir is not None else None
    return dataclasses.replace(
        options, results_dir=Path(options.results_dir).resolve(), cache_dir=cache
    )


def _slurm(
    specs: list[JobSpec], results_dir: Path, settings: LaunchSettings, say: Callable[[str], None]
) -> LaunchResult:
    from embharness.run.launchers import slurm

    folder = Path(results_dir) / "_embharness" / "submitit"
    submission = slurm.submit(specs, folder, settings.slurm)
    ids = [str(job.job_id) for job, _ in submission.jobs]
    if not settings.wait:
        first = ids[0].split("_")[0]
        say(
            f"submitted job array {first} ({len(ids)} jobs); logs in {folder}. Follow it with "
            f"`embharness status SWEEP --results-dir {results_dir}`, `squeue -j {first}` or "
            f"`sacct -j {first}`"
        )
        return LaunchResult(job_ids=ids)
    outcomes, failed = slurm.follow(submission, settings.slurm.max_retries, say)
    return LaunchResult(outcomes, [_failure_line(spec, err) for spec, err in failed], ids)


def _ray(specs: list[JobSpec], settings: LaunchSettings) -> LaunchResult:
    from embharness.run.launchers import ray_launcher

    refs = ray_launcher.submit(specs, settings.ray)
    outcomes, failed = ray_launcher.follow(refs)
    lines = [_failure_line(spec, err) for spec, err in failed]
    return LaunchResult(outcomes, lines, [ref.hex() for ref, _ in refs])


def _failure_line(spec: JobSpec, error: str) -> str:
    return f"{spec.model} × {spec.task}: {error}"
