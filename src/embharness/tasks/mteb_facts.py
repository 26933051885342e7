"""Facts about mteb tasks and benchmarks, looked up once per process."""

from __future__ import annotations

import functools

import mteb
from mteb.abstasks import AbsTask


@functools.cache
def known_task_names() -> frozenset[str]:
    """Names of every task mteb knows, superseded, aggregate and private ones included."""
    tasks = mteb.get_tasks(exclude_superseded=False, exclude_aggregate=False, exclude_private=False)
    return frozenset(task.metadata.name for task in tasks)


@functools.cache
def task_or_none(name: str) -> AbsTask | None:
    """The mteb task called ``name``, or None when mteb has no such task (offline tasks)."""
    if name not in known_task_names():
        return None
    return mteb.get_task(name)


def task_type(name: str, fallback: str | None = None) -> str:
    """mteb's task type (``Retrieval``, ``STS``…), else ``fallback``, else ``unknown``."""
    task = task_or_none(name)
    if task is not None:
        return str(task.metadata.type)
    return fallback or "unknown"


def main_metric(name: str) -> str:
    """Name of the task's main metric (``ndcg_at_10``…); ``main_score`` when mteb lacks it."""
    task = task_or_none(name)
    return str(task.metadata.main_score) if task is not None else "main_score"


@functools.cache
def benchmark_task_sets() -> dict[str, frozenset[str]]:
    """Every mteb benchmark's name mapped to the names of its tasks."""
    return {
        bench.name: frozenset(task.metadata.name for task in bench.tasks)
        for bench in mteb.get_benchmarks()
    }
