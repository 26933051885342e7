"""Narrow a sweep to what the command line selects: models, tasks, groups, dims, languages."""

from __future__ import annotations

from dataclasses import replace

from embharness.errors import HarnessError
from embharness.run.sweep import Sweep, TaskEntry


def _select(items: tuple, names: list[str] | None, kind: str) -> tuple:
    if not names:
        return items
    known = {item.name for item in items}
    missing = [n for n in names if n not in known]
    if missing:
        raise HarnessError(
            f"{kind} {', '.join(missing)} not in this sweep",
            f"choose from {', '.join(sorted(known))}",
        )
    return tuple(item for item in items if item.name in names)


def _group_tasks(sweep: Sweep, group: str | None) -> list[str] | None:
    if group is None:
        return None
    if group not in sweep.groups:
        raise HarnessError(
            f"group {group!r} is not in this sweep",
            f"choose from {', '.join(sorted(sweep.groups)) or '(none defined)'}",
        )
    return list(sweep.groups[group])


def filter_sweep(
    sweep: Sweep,
    models: list[str] | None,
    tasks: list[str] | None,
    dims: list[int] | None,
    group: str | None = None,
    languages: list[str] | None = None,
) -> Sweep:
    """Restrict a sweep (the CLI's --models/--tasks/--group/--dims/--languages)."""
    chosen = _select(sweep.models, models, "model(s)")
    if dims:
        chosen = tuple(replace(m, dims=tuple(dims)) for m in chosen)
    picked = _select(sweep.tasks, tasks or _group_tasks(sweep, group), "task(s)")
    if languages:
        picked = _with_languages(picked, languages)
    return replace(sweep, models=chosen, tasks=picked)


def _with_languages(tasks: tuple[TaskEntry, ...], languages: list[str]) -> tuple[TaskEntry, ...]:
    """Tasks that cover any of ``languages``, each filtered to them; others are dropped."""
    from embharness.tasks.registry import get_task

    wanted = set(languages)
    kept = tuple(
        replace(t, languages=tuple(languages))
        for t in tasks
        if wanted & set(get_task(t.name).metadata.languages)
    )
    if not kept:
        raise HarnessError(
            f"no task of this selection covers {', '.join(languages)}",
            "use ISO 639-3 codes such as deu, fra, spa, or pick other tasks",
        )
    return kept


def with_overrides(
    sweep: Sweep,
    from_path: str | None,
    adapter: str | None,
    merge_adapter: bool,
    code_revision: str | None = None,
    max_batch_tokens: int | None = None,
) -> Sweep:
    """Apply --from (one model only), --adapter, --merge-adapter, --code-revision and
    --max-batch-tokens (every model's token budget)."""
    if from_path and len(sweep.models) != 1:
        raise HarnessError(
            "--from needs exactly one model in the selection",
            "add --models NAME to pick the model the local weights belong to",
        )
    models = tuple(
        replace(
            m,
            path=from_path or m.path,
            adapter=adapter or m.adapter,
            merge_adapter=merge_adapter or m.merge_adapter,
            code_revision=code_revision or m.code_revision,
            settings=m.settings.merged({"max_batch_tokens": max_batch_tokens}),
        )
        for m in sweep.models
    )
    settings = sweep.settings.merged({"max_batch_tokens": max_batch_tokens})
    return replace(sweep, models=models, settings=settings)
