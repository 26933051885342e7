"""Plan a sweep before it runs: texts, estimated tokens and GPU time per model × task.

Counts come from mteb's descriptive statistics, packaged with mteb as one JSON file per task
(``TaskMetadata.descriptive_stats``, read from ``mteb/descriptive_stats/<type>/<name>.json``), so
planning downloads nothing. The harness's offline tasks have no packaged file: they are local,
so they are loaded (with the cell's sample cap) and counted with mteb's own statistics code.
Tokens are estimated from characters; the finished cells are read from the results folder.
No model is loaded: a model is only resolved to the identity that names its result folders.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embharness.errors import HarnessError
from embharness.results.store import ResultsStore
from embharness.run.cell_identity import cell_model_meta
from embharness.run.cells import PreparedModel, check_tasks, prepare_model
from embharness.run.sweep import ModelEntry, Sweep, TaskEntry
from embharness.run.task_loading import TaskLoader
from embharness.tasks.registry import OFFLINE_TASKS, get_task

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

# A rough, documented ratio: BPE tokenizers (Qwen2, XLM-R) give about 3-4 characters per token
# on English prose and source code; 3.5 sits in the middle. It is an estimate, not a count.
CHARS_PER_TOKEN = 3.5
# The harness's measured fp16 throughput at batch 32 for jina-code-embeddings-0.5b on an H100,
# as reported in issue 11; pass --tokens-per-s for another model or machine.
TOKENS_PER_S = 39_000.0


@dataclass(frozen=True)
class TextCount:
    """How many texts a task feeds the encoder and their characters (None when unknown).

    ``upper_bound`` marks full-data statistics of a task the cell caps with ``max_samples``.
    """

    texts: int | None
    chars: int | None
    source: str
    upper_bound: bool = False

    @property
    def tokens(self) -> int | None:
        """Estimated tokens: characters / ``CHARS_PER_TOKEN``."""
        return round(self.chars / CHARS_PER_TOKEN) if self.chars is not None else None


@dataclass(frozen=True)
class PlanRow:
    """One model × task: one encode shared by ``cells`` dims, ``done`` of them finished."""

    model: str
    task: str
    task_type: str
    count: TextCount
    cells: int
    done: int | None


@dataclass
class Plan:
    """The rows of a sweep's plan and, per model that could not be resolved, its problem."""

    sweep: Sweep
    results_dir: Path
    rows: list[PlanRow] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


def text_blocks_count(stats: Mapping[str, Any]) -> tuple[int, int]:
    """Texts and characters of one statistics block (a split, or a subset of a split).

    Every ``*_statistics`` entry with text lengths (queries, documents, sentence1, text1, ...)
    is one column of texts; its count is its total length over its average length.
    """
    texts = chars = 0
    for key, block in stats.items():
        if key.endswith("_statistics") and isinstance(block, Mapping):
            total, average = block.get("total_text_length"), block.get("average_text_length")
            if total is not None:
                texts += round(total / average) if average else 0
                chars += int(total)
    return texts, chars


def _chosen_subsets(task: AbsTask) -> list[str] | None:
    """The task's subsets when a sweep filter narrowed them, else None (all of them)."""
    chosen = list(task.hf_subsets)
    return chosen if set(chosen) != set(task.metadata.hf_subsets) else None


def _split_blocks(split_stats: Mapping[str, Any], subsets: list[str] | None) -> list[Any]:
    per_subset = split_stats.get("hf_subset_descriptive_stats")
    if subsets and isinstance(per_subset, Mapping):
        return [per_subset[s] for s in subsets if s in per_subset]
    return [split_stats]


def _summed(blocks: Sequence[Any], source: str, upper_bound: bool) -> TextCount:
    counts = [text_blocks_count(b) for b in blocks]
    return TextCount(sum(t for t, _ in counts), sum(c for _, c in counts), source, upper_bound)


def packaged_count(task: AbsTask, splits: list[str], capped: bool = False) -> TextCount:
    """Texts and characters of ``splits`` from the statistics mteb ships for ``task``."""
    stats = task.metadata.descriptive_stats
    if not stats or any(split not in stats for split in splits):
        return TextCount(None, None, "no mteb statistics")
    subsets = _chosen_subsets(task)
    blocks = [b for split in splits for b in _split_blocks(stats[split], subsets)]
    return _summed(blocks, "mteb statistics", upper_bound=capped)


@contextmanager
def _no_hash_bars() -> Iterator[None]:
    """mteb's statistics draw a bar per text column; a plan prints only its table."""
    try:
        import mteb._content_hashes as hashes
    except ImportError:  # mteb moved it: the bars show, nothing breaks
        yield
        return
    original = getattr(hashes, "tqdm", None)
    if original is not None:
        hashes.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        if original is not None:
            hashes.tqdm = original


def loaded_count(task: AbsTask, splits: list[str]) -> TextCount:
    """Texts and characters of a loaded (and capped) task, by mteb's own statistics code."""
    subsets: list[str | None] = list(task.hf_subsets) if task.metadata.is_multilingual else [None]
    with _no_hash_bars():
        blocks = [
            task._calculate_descriptive_statistics_from_split(split, hf_subset=subset)
            for split in splits
            for subset in subsets
        ]
    return _summed(blocks, "loaded", upper_bound=False)


def _metadata_task(entry: TaskEntry) -> AbsTask:
    """The task with the sweep's filters, data not loaded (like ``TaskLoader`` builds it)."""
    return get_task(
        entry.name,
        languages=list(entry.languages) if entry.languages else None,
        eval_splits=list(entry.splits) if entry.splits else None,
        hf_subsets=list(entry.subsets) if entry.subsets else None,
    )


class _Counter:
    """Counts each (task, cap) once: offline tasks by loading them, mteb tasks by statistics."""

    def __init__(self, loader: TaskLoader) -> None:
        self.loader = loader
        self._counts: dict[tuple[TaskEntry, int | None], TextCount] = {}

    def count(self, entry: TaskEntry, cap: int | None) -> TextCount:
        key = (entry, cap)
        if key not in self._counts:
            splits = self.loader.splits(entry)
            if entry.name in OFFLINE_TASKS:
                count = loaded_count(self.loader.get(entry, cap), splits)
            else:
                count = packaged_count(_metadata_task(entry), splits, capped=bool(cap))
            self._counts[key] = count
        return self._counts[key]


def _cap(model: ModelEntry, task: TaskEntry) -> int | None:
    return task.max_samples or model.settings.max_samples


def _dims_done(
    store: ResultsStore, model: PreparedModel, task: TaskEntry, splits: list[str]
) -> int:
    """How many of the model's dims already have a result covering ``splits``."""
    return sum(
        store.covers(cell_model_meta(model, task, dim), task.name, splits) for dim in model.dims
    )


def _prepared(entry: ModelEntry, plan: Plan) -> PreparedModel | None:
    """The model resolved as the runner resolves it, or None with its problem noted."""
    try:
        return prepare_model(entry)
    except HarnessError as exc:
        plan.problems[entry.name] = exc.one_line()
        return None


def plan_sweep(sweep: Sweep, results_dir: Path) -> Plan:
    """One row per model × task: texts, characters and how many of its dims are done.

    A model that cannot be resolved (unpinned revision, hub unreachable, unreviewed code) keeps
    its rows with the texts (they do not depend on the model) and an unknown done count.
    """
    check_tasks(sweep.tasks)
    plan = Plan(sweep, results_dir)
    store, loader = ResultsStore(results_dir), TaskLoader()
    counter = _Counter(loader)
    types = {task: str(_metadata_task(task).metadata.type) for task in sweep.tasks}
    for entry in sweep.models:
        model = _prepared(entry, plan)
        for task in sweep.tasks:
            splits = loader.splits(task)
            plan.rows.append(
                PlanRow(
                    model=entry.name,
                    task=task.name,
                    task_type=types[task],
                    count=counter.count(task, _cap(entry, task)),
                    cells=len(model.dims) if model else len(entry.dims) or 1,
                    done=_dims_done(store, model, task, splits) if model else None,
                )
            )
    return plan


def duration(seconds: float) -> str:
    """``8s``, ``12m05s`` or ``3h07m``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _number(value: int | None, upper_bound: bool = False) -> str:
    return "—" if value is None else ("≤" if upper_bound else "") + f"{value:,}"


def _row_line(row: PlanRow, tokens_per_s: float) -> str:
    count, tokens = row.count, row.count.tokens
    gpu = "—" if tokens is None else duration(tokens / tokens_per_s)
    done = "?" if row.done is None else str(row.done)
    return (
        f"{row.model:42} {row.task:34} {_number(count.texts, count.upper_bound):>12} "
        f"{_number(tokens, count.upper_bound):>14} {gpu:>9}  {done}/{row.cells}"
    )


def _header(plan: Plan, tokens_per_s: float) -> list[str]:
    sweep = plan.sweep
    return [
        f"plan of sweep {sweep.name!r}: {len(sweep.models)} model(s) × {len(sweep.tasks)} "
        f"task(s), results folder {plan.results_dir}",
        f"est. tokens = characters / {CHARS_PER_TOKEN} (a rough ratio for code and English); "
        f"est. GPU = tokens / {tokens_per_s:,.0f} tokens/s; one encode per model × task, "
        "shared by all its dims",
        f"{'model':42} {'task':34} {'texts':>12} {'est. tokens':>14} {'est. GPU':>9}  dims done",
    ]


def _total_line(plan: Plan, tokens_per_s: float) -> str:
    known = [row for row in plan.rows if row.count.texts is not None]
    texts = sum(row.count.texts or 0 for row in known)
    tokens = sum(row.count.tokens or 0 for row in known)
    done = sum(row.done or 0 for row in plan.rows)
    cells = sum(row.cells for row in plan.rows)
    unknown = len(plan.rows) - len(known)
    missing = f" ({unknown} model × task row(s) without counts)" if unknown else ""
    return (
        f"total: {texts:,} texts, {tokens:,} est. tokens, "
        f"{tokens / tokens_per_s / 3600:.2f} GPU h, cells done {done}/{cells}{missing}"
    )


def _notes(plan: Plan) -> list[str]:
    rows = plan.rows
    notes = []
    if any(row.count.upper_bound for row in rows):
        notes.append("≤: the cell caps the task (max_samples); full-data statistics shown")
    if any(row.count.texts is None for row in rows):
        notes.append("—: mteb ships no statistics for these splits")
    if any(row.done is None for row in rows):
        notes.append("?: the model could not be resolved, so its finished cells are unknown")
    if any(row.task_type == "Classification" for row in rows):
        notes.append(
            "classification: evaluation splits only; mteb also encodes a small training sample"
        )
    notes.append("tokens are before truncation to the model's max length")
    return [f"note: {note}" for note in notes]


def plan_lines(plan: Plan, tokens_per_s: float = TOKENS_PER_S) -> list[str]:
    """The printed plan: header, a line per model × task, the total line and notes.

    A model that could not be resolved gets a ``cannot plan <model>: <problem>`` line first.
    """
    lines = _header(plan, tokens_per_s)
    introduced: set[str] = set()
    for row in plan.rows:
        problem = plan.problems.get(row.model)
        if problem and row.model not in introduced:
            lines.append(f"cannot plan {row.model}: {problem}")
            introduced.add(row.model)
        lines.append(_row_line(row, tokens_per_s))
    return [*lines, _total_line(plan, tokens_per_s), *_notes(plan)]
