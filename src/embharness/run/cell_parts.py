"""A multi-subset retrieval cell scored in parts, each part by another score-pool process.

mteb evaluates a task's subsets one after the other and scores each on its own: a subset's
metrics read only its own queries, corpus and qrels. A cell whose task has several subsets
(COIR-CodeSearchNet: six languages, 52,561 queries in all; the man-page tasks: 30 language
pairs) can therefore be split by subset. Each part is ``mteb.evaluate`` over the same task with
its ``hf_subsets`` narrowed to the part's (mteb's own subset selection), and the parts' results
are joined with mteb's ``TaskResult.merge``; no metric is computed outside mteb. The joined
result, its per-item rows and its run record equal a whole cell's (subsets in the task's order).

Parts are balanced by queries (longest first onto the lightest part), since the score phase
grows with queries × top-k: COIR-CSN's largest subset (python) holds 28 % of its queries, so
at 4 parts or more its cell's score phase is that subset's.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from embharness.encoding.bridge import EncodeStats
from embharness.results.per_query import PerItemScores, check_matches_aggregate

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask
    from mteb.results import TaskResult

    from embharness.results.record import CellFacts


@dataclass
class CellPart:
    """One scored part of a cell (or a whole cell): mteb's result, the per-item scores and
    the facts its record is built from. Nothing of it is written yet."""

    task_result: TaskResult
    items: PerItemScores
    facts: CellFacts


def subset_groups(task: AbsTask, parts: int) -> list[tuple[str, ...]]:
    """``task``'s subsets in at most ``parts`` groups of about equal queries, each group in the
    task's subset order; one group (all subsets) where there is nothing to split."""
    subsets = list(task.hf_subsets or [])
    if parts < 2 or len(subsets) < 2:
        return [tuple(subsets)]
    weight = {subset: _queries(task, subset) for subset in subsets}
    groups: list[list[str]] = [[] for _ in range(min(parts, len(subsets)))]
    loads = [0] * len(groups)
    for subset in sorted(subsets, key=lambda s: -weight[s]):
        lightest = loads.index(min(loads))
        groups[lightest].append(subset)
        loads[lightest] += weight[subset]
    return [tuple(sorted(group, key=subsets.index)) for group in groups]


def _queries(task: AbsTask, subset: str) -> int:
    """Queries of ``subset`` over the task's eval splits (1 where the data is not loaded)."""
    dataset: Any = getattr(task, "dataset", None) or {}
    splits = dataset.get(subset) or {}
    count = sum(len(data.get("queries") or []) for data in splits.values() if hasattr(data, "get"))
    return max(count, 1)


def narrowed(task: AbsTask, subsets: tuple[str, ...]) -> AbsTask:
    """``task`` evaluating only ``subsets`` (a shallow copy: the loaded data is shared)."""
    part = copy.copy(task)
    part.hf_subsets = list(subsets)
    return part


def join_parts(task: AbsTask, parts: list[CellPart]) -> CellPart:
    """One cell from its parts: mteb's ``TaskResult.merge`` of their results (each split's
    subsets put back in the task's order), their per-item rows in mteb's order (split, then
    subset), checked against the joined aggregate, and the facts of the slowest part (its
    wall and encode time are the cell's) with every part's cache lookups, truncations and
    retries counted."""
    order = {subset: rank for rank, subset in enumerate(task.hf_subsets or [])}
    merged = functools.reduce(lambda a, b: a.merge(b), [p.task_result for p in parts])
    for split, rows in merged.scores.items():
        merged.scores[split] = sorted(rows, key=lambda row: order.get(row["hf_subset"], -1))
    items = _joined_items(parts, order)
    if items.available:
        check_matches_aggregate(items, merged)
    slowest = max(parts, key=lambda p: p.facts.wall_s).facts
    facts = replace(
        slowest,
        stats=replace(
            EncodeStats.summed([p.facts.stats for p in parts]), encode_s=slowest.stats.encode_s
        ),
        main_score=float(merged.get_score()),
        items=items,
        parts=len(parts),
        loaded_dtype=next((p.facts.loaded_dtype for p in parts if p.facts.loaded_dtype), None),
    )
    return CellPart(merged, items, facts)


def _joined_items(parts: list[CellPart], order: dict[str, int]) -> PerItemScores:
    import pandas as pd

    first = parts[0].items
    if not first.available:
        return first
    frames = [p.items.frame for p in parts]
    frame = pd.concat(frames, ignore_index=True)
    splits = {split: rank for rank, split in enumerate(dict.fromkeys(frame["split"]))}
    rank = frame["split"].map(splits) * (len(order) + 1) + frame["subset"].map(order)
    frame = frame.iloc[rank.argsort(kind="stable")].reset_index(drop=True)
    return replace(first, frame=frame)
