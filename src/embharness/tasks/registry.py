"""Task lookup: the harness's offline tasks first, then mteb's registry.

Offline tasks are named ``module:Class`` strings and imported only when used; mteb is imported
only when a name is not an offline task.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from embharness.errors import HarnessError
from embharness.paths import configure_environment

if TYPE_CHECKING:
    from mteb.abstasks.abstask import AbsTask

__all__ = [
    "OFFLINE_TASKS",
    "apply_sample_cap",
    "get_task",
    "list_offline_tasks",
    "task_exists",
]

OFFLINE_TASKS: dict[str, str] = {
    "HumanEvalRetrievalOffline": "embharness.tasks.humaneval_offline:HumanEvalRetrievalOffline",
    "PythonStdlibDocstringRetrieval": (
        "embharness.tasks.stdlib_offline:PythonStdlibDocstringRetrieval"
    ),
    "ManpagesCrossLingualRetrieval": (
        "embharness.tasks.manpages_offline:ManpagesCrossLingualRetrieval"
    ),
    "ManpagesBitextMining": "embharness.tasks.manpages_offline:ManpagesBitextMining",
    "StdlibLongDocRetrievalOffline": (
        "embharness.tasks.long_docs_offline:StdlibLongDocRetrievalOffline"
    ),
}


def apply_sample_cap(task: AbsTask, max_samples: int) -> None:
    """Cap a loaded task to about ``max_samples`` per split and subset (see ``sample_cap``)."""
    from embharness.tasks.sample_cap import apply_sample_cap as cap

    cap(task, max_samples)


def list_offline_tasks() -> list[str]:
    """Names of the offline tasks, sorted."""
    return sorted(OFFLINE_TASKS)


def _offline_class(name: str) -> type[AbsTask]:
    configure_environment()
    module_name, attr = OFFLINE_TASKS[name].split(":")
    task_class: type[AbsTask] = getattr(importlib.import_module(module_name), attr)
    return task_class


def _mteb_task(name: str) -> AbsTask | None:
    """mteb's task of that name (no data loaded), or None when mteb doesn't know it."""
    configure_environment()
    import mteb

    try:
        return mteb.get_task(name)
    except KeyError:
        return None


def task_exists(name: str) -> bool:
    """Whether ``name`` is an offline task or an mteb task (imports mteb only for the latter)."""
    return name in OFFLINE_TASKS or _mteb_task(name) is not None


def _unknown_task(name: str) -> HarnessError:
    import mteb

    known = list(OFFLINE_TASKS) + [
        t.metadata.name for t in mteb.get_tasks(exclude_superseded=False, exclude_private=False)
    ]
    close = difflib.get_close_matches(name, known, n=1)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    hint = f"did you mean {close[0]!r}? " if close else ""
    return HarnessError(
        f"unknown task {name!r}",
        f"{hint}run `embharness tasks SWEEP_FILE` to list a sweep's tasks (offline tasks: "
        f"{', '.join(list_offline_tasks())}), or check the spelling against mteb's task names",
    )


def _apply_filters(
    task: AbsTask,
    languages: list[str] | None,
    eval_splits: list[str] | None,
    hf_subsets: list[str] | None,
) -> AbsTask:
    name = task.metadata.name
    if hf_subsets:
        unknown = sorted(set(hf_subsets) - set(task.metadata.hf_subsets))
        if unknown:
            raise HarnessError(
                f"task {name} has no subset(s) {', '.join(unknown)}",
                f"choose from {', '.join(task.metadata.hf_subsets)}",
            )
    if eval_splits:
        task.filter_eval_splits(eval_splits)
    if languages or hf_subsets:
        try:
            task.filter_languages(languages, hf_subsets=hf_subsets)
        except ValueError as exc:
            raise HarnessError(
                f"task {name} has no subsets for languages {', '.join(languages or [])}",
                f"choose languages from {', '.join(task.metadata.languages)}",
            ) from exc
    return task


def get_task(
    name: str,
    *,
    languages: list[str] | None = None,
    eval_splits: list[str] | None = None,
    hf_subsets: list[str] | None = None,
) -> AbsTask:
    """The task called ``name`` (offline first, then mteb), filtered like ``mteb.get_task``.

    Raises HarnessError for unknown names (with a close-match suggestion) and for subsets or
    languages the task doesn't have.
    """
    if name in OFFLINE_TASKS:
        task = _offline_class(name)()
    else:
        found = _mteb_task(name)
        if found is None:
            raise _unknown_task(name)
        task = found
    return _apply_filters(task, languages, eval_splits, hf_subsets)
