"""Launcher settings: the sweep file's ``launcher:`` block, overridden by ``run`` flags."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from embharness.errors import HarnessError
from embharness.run.launchers import LAUNCHERS
from embharness.run.leases import DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class SlurmSettings:
    """The ``launcher:`` block / flags for SLURM."""

    partition: str | None = None
    gpus_per_job: int = 1
    time_min: int = 240
    mem_gb: int = 32
    cpus_per_job: int = 8
    array_parallelism: int = 64
    max_retries: int = 2  # resubmissions of a job that died without a result
    cluster: str | None = None  # None: SLURM; "local": submitit's LocalExecutor (tests)


@dataclass(frozen=True)
class RaySettings:
    """The ``launcher:`` block / flags for Ray."""

    address: str | None = None  # None: a local instance; "auto": the running cluster
    gpus_per_job: float = 1.0
    cpus_per_job: float = 1.0
    max_retries: int = 3
    num_cpus: int | None = None  # a local instance's CPUs (one job per CPU without GPUs)


@dataclass
class LaunchSettings:
    """Which launcher, its engine settings, and whether to follow the jobs to the end."""

    launcher: str = "local"
    wait: bool = True
    lease_timeout_s: float = DEFAULT_TIMEOUT_S
    slurm: SlurmSettings = field(default_factory=SlurmSettings)
    ray: RaySettings = field(default_factory=RaySettings)


_FLAT = {"name", "wait", "lease_timeout_s"}


def check_block(where: str, block: Any) -> dict[str, Any]:
    """Validate a sweep's ``launcher:`` block (one-line errors naming the fix)."""
    if block is None:
        return {}
    if isinstance(block, str):
        block = {"name": block}
    if not isinstance(block, dict):
        raise HarnessError(f"{where}: `launcher` must be a mapping", "e.g. launcher: {name: ray}")
    allowed = (
        _FLAT
        | {f.name for f in dataclasses.fields(SlurmSettings)}
        | {f.name for f in dataclasses.fields(RaySettings)}
    )
    unknown = sorted(set(block) - allowed)
    if unknown:
        raise HarnessError(
            f"{where}: unknown launcher key(s) {', '.join(unknown)}",
            f"use only {', '.join(sorted(allowed))}",
        )
    if block.get("name", "local") not in LAUNCHERS:
        raise HarnessError(
            f"{where}: unknown launcher {block['name']!r}", f"use one of {', '.join(LAUNCHERS)}"
        )
    return dict(block)


def _pick(cls: type, values: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names and v is not None})


def launch_settings(sweep: Any, launcher: str | None, **flags: Any) -> LaunchSettings:
    """The sweep's ``launcher:`` block with the command-line flags on top."""
    block = dict(getattr(sweep, "launcher", None) or {})
    renamed = {
        "partition": flags.get("partition"),
        "gpus_per_job": flags.get("gpus_per_job"),
        "time_min": flags.get("time_limit"),
        "mem_gb": flags.get("mem_gb"),
        "array_parallelism": flags.get("array_parallelism"),
        "address": flags.get("address"),
        "lease_timeout_s": flags.get("lease_timeout"),
    }
    values = {**block, **{k: v for k, v in renamed.items() if v is not None}}
    slurm = _pick(SlurmSettings, values)
    if isinstance(slurm.gpus_per_job, float):
        slurm = dataclasses.replace(slurm, gpus_per_job=int(slurm.gpus_per_job))
    return LaunchSettings(
        launcher=launcher or str(values.get("name", "local")),
        wait=bool(flags.get("wait", values.get("wait", True))),
        lease_timeout_s=float(values.get("lease_timeout_s", DEFAULT_TIMEOUT_S)),
        slurm=slurm,
        ray=_pick(RaySettings, values),
    )
