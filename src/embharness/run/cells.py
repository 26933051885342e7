"""Expand a sweep into validated cells: one (model, task, dim) each, checked before any work."""

from __future__ import annotations

from dataclasses import dataclass, replace

from embharness.errors import HarnessError
from embharness.hub import ensure_available
from embharness.models.backend import BackendInfo
from embharness.models.device import pick_batching
from embharness.models.late_chunking import require_mean_pooling
from embharness.models.loading import LoadSettings, describe_backend
from embharness.run.sweep import ModelEntry, TaskEntry
from embharness.specs.registry import get_spec
from embharness.specs.spec import ModelSpec, Prompt


@dataclass(frozen=True)
class PreparedModel:
    """A sweep model resolved to its spec, load settings and (unloaded) backend identity.

    ``published`` is the spec before the sweep's own choices (whitespace rule, task adapters):
    what differs from it names an experiment.
    """

    entry: ModelEntry
    spec: ModelSpec
    load: LoadSettings
    info: BackendInfo
    dims: tuple[int, ...]
    published: ModelSpec

    @property
    def batching(self) -> tuple[int, int | None]:
        """(row cap, padded-token budget) its cells run with: the sweep's where set, else the
        default of the device it will load on (``models.device.pick_batching``)."""
        settings = self.entry.settings
        return pick_batching(settings.batch_size, settings.max_batch_tokens, self.info.device)


def _published_spec(entry: ModelEntry) -> ModelSpec:
    spec = get_spec(
        entry.name,
        revision=entry.revision,
        local_path=entry.path,
        embed_dim=entry.embed_dim,
        code_revision=entry.code_revision,
    )
    if entry.trust_remote_code and not spec.trust_remote_code:
        spec = replace(spec, trust_remote_code=True)
    return spec


def _with_choices(spec: ModelSpec, entry: ModelEntry) -> ModelSpec:
    """The sweep's own choices on top of the published spec."""
    if entry.strip_whitespace is not None:
        spec = replace(spec, strip_whitespace=entry.strip_whitespace)
    if entry.task_adapters:
        rows = _task_adapters(spec, entry.task_adapters)
        spec = replace(spec, prompts=spec.prompts.with_rows(rows))
    return spec


def _task_adapters(spec: ModelSpec, chosen: dict[str, dict[str, str]]) -> dict[str, Prompt]:
    """A sweep's per-task adapter opt-ins as ``"{task}-{side}"`` rows of the prompt table.

    Each is checked against the model's own adapters and carries the instruction the spec's table
    gives its adapter (none for most).
    """
    if not spec.adapter_names:
        raise HarnessError(
            f"model {spec.name} has no task adapters, so task_adapters cannot apply",
            "remove `task_adapters:` from this model's entry",
        )
    table = {}
    for task, sides in chosen.items():
        for side, adapter in sides.items():
            if adapter not in spec.adapter_names:
                raise HarnessError(
                    f"task_adapters.{task}.{side}: {spec.name} has no adapter {adapter!r}",
                    f"use one of {', '.join(spec.adapter_names)}",
                )
            table[f"{task}-{side}"] = Prompt(spec.prompts.instruction_for(adapter), adapter)
    return table


def valid_dims(spec: ModelSpec, info: BackendInfo) -> tuple[int, ...]:
    """The spec's dims that the checkpoint can produce (a smaller local checkpoint limits them)."""
    return tuple(d for d in spec.dims if d <= info.embed_dim)


def _check_dims(entry: ModelEntry, allowed: tuple[int, ...]) -> tuple[int, ...]:
    dims = entry.dims or (max(allowed),)
    bad = [d for d in dims if d not in allowed]
    if bad:
        raise HarnessError(
            f"model {entry.name} cannot produce dim(s) {', '.join(map(str, bad))}",
            f"choose from {', '.join(map(str, allowed))}",
        )
    return tuple(sorted(dims, reverse=True))


def _check_hub_first(spec: ModelSpec) -> None:
    """For hub weights, an unreachable hub is the first thing to report, before a missing pin."""
    if spec.local_path is None:
        ensure_available(spec.name, spec.revision)


def prepare_model(entry: ModelEntry) -> PreparedModel:
    """Resolve one model entry; errors name the model and the fix."""
    published = _published_spec(entry)
    spec = _with_choices(published, entry)
    if entry.settings.chunking == "late":
        require_mean_pooling(spec.pooling, spec.name)
    if not spec.revision:
        _check_hub_first(spec)
    load = LoadSettings(
        device=entry.settings.device,
        dtype=entry.settings.dtype,
        attn_implementation=entry.settings.attn_implementation,
        max_length=entry.settings.max_length,
        peft_adapter=entry.adapter,
        merge_peft=entry.merge_adapter,
    )
    info = describe_backend(spec, load)
    dims = _check_dims(entry, valid_dims(spec, info))
    return PreparedModel(entry, spec, load, info, dims, published)


def check_tasks(tasks: tuple[TaskEntry, ...]) -> None:
    """Every task name must be known to mteb or to the offline registry."""
    from embharness.tasks.registry import get_task, task_exists

    for task in tasks:
        if not task_exists(task.name):
            get_task(task.name)  # raises the one-line error with a suggestion
