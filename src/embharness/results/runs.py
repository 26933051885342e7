"""Read the harness's results folder (mteb's ResultCache layout) and its run records.

Layout of a results folder ``R`` (any name; the rule lives in ``results.store``):

- ``R/<org__model>/<revision>/<Task>.json`` + ``model_meta.json``: full-dimension default runs;
- ``R/<org__model>/<revision>/experiments/<name>/<Task>.json`` + ``model_meta.json``: runs with
  ``experiment_kwargs`` such as ``{"embed_dim": 256}`` or ``{"max_samples": 20}`` (capped);
- ``<folder of Task.json>/_embharness/<Task>.json``: the harness's run record (optional).

``Run.kind`` (a ``RunKind``) says how a run may be compared: ``FULL`` (the default run, or an
experiment that only caps samples or changes the dtype: compared with published figures unless
capped), ``DIM`` (a Matryoshka truncation, ``embed_dim``: shown per dimension) or ``OTHER`` (any
other experiment: shown, never compared). ``Run.label`` is the experiment's name in every table:
the experiment folder name, ``DEFAULT_EXPERIMENT`` for the default run.
"""

from __future__ import annotations

import enum
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mteb.results import TaskResult

from embharness.errors import HarnessError
from embharness.results.per_query import PerItemScores
from embharness.results.schema import upgrade_record
from embharness.results.store import ResultsStore, items_path, run_record_path
from embharness.tasks.mteb_facts import task_or_none, task_type

EXPERIMENTS_FOLDER = "experiments"
DEFAULT_EXPERIMENT = "default"
# Experiment kwargs that keep a run comparable with published figures: Matryoshka dims, sample
# caps (shown, never compared) and a dtype other than the published one (marked).
DIM_KWARGS = frozenset({"embed_dim", "max_samples", "dtype"})


def read_json_or_none(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def record_value(record: dict[str, Any] | None, *keys: str) -> Any:
    """``record[k1][k2]…``, or None when the record or any key is missing."""
    value: Any = record
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class RunKind(enum.Enum):
    """How a run compares with published figures (see the module docstring)."""

    FULL = "full"
    DIM = "dim"
    OTHER = "other"


@dataclass(frozen=True)
class Run:
    """One task result of one model variant, with its run record when there is one."""

    model: str
    revision: str
    experiment: str | None
    kwargs: dict[str, Any]
    dim: int | None
    full_dim: int | None
    task: str
    path: Path
    result: TaskResult = field(repr=False)
    record: dict[str, Any] | None = field(repr=False)

    @property
    def max_samples(self) -> int | None:
        """The sample cap of a quick run, or None for a full run."""
        cap = self.kwargs.get("max_samples", record_value(self.record, "task", "max_samples"))
        return int(cap) if cap is not None else None

    @property
    def capped(self) -> bool:
        """True for quick runs that must never be compared with published figures."""
        return self.max_samples is not None

    @property
    def kind(self) -> RunKind:
        """``FULL`` (full dimension), ``DIM`` (Matryoshka truncation) or ``OTHER``."""
        if self.experiment is None:
            return RunKind.FULL
        if not self.kwargs or not set(self.kwargs) <= DIM_KWARGS:
            return RunKind.OTHER
        return RunKind.DIM if "embed_dim" in self.kwargs else RunKind.FULL

    @property
    def label(self) -> str:
        """The experiment folder name, ``DEFAULT_EXPERIMENT`` for the default run."""
        return self.experiment or DEFAULT_EXPERIMENT

    @property
    def precision_note(self) -> str | None:
        """How a run in another dtype than the published one is marked; None otherwise."""
        dtype = self.kwargs.get("dtype")
        if dtype is None:
            return None
        published = record_value(self.record, "settings", "published_dtype") or "another dtype"
        device = str(record_value(self.record, "settings", "device") or "")
        where = " on CPU" if device.startswith("cpu") else ""
        tolerated = " (tolerated by the leaderboard)" if where and dtype == "float32" else ""
        return f"{dtype}{where}, published in {published}{tolerated}"

    def harness_chosen_prompts(self) -> list[str]:
        """``side: prompt (reason)`` for each side whose prompt the harness chose."""
        plans = record_value(self.record, "task", "plans") or {}
        return [
            f"{side}: {plan.get('prompt_type') or plan.get('adapter')} ({plan.get('source')})"
            for side, plan in sorted(plans.items())
            if isinstance(plan, dict) and plan.get("harness_chosen")
        ]

    def marks(self) -> list[str]:
        """What a reader must know about how the run was made: dtype and harness-chosen prompts."""
        marks = [self.precision_note] if self.precision_note else []
        return marks + [f"harness-chosen prompt, {c}" for c in self.harness_chosen_prompts()]

    @property
    def task_type(self) -> str:
        """mteb's task type, else the run record's, else ``unknown``."""
        return task_type(self.task, record_value(self.record, "task", "type"))

    def cells(self) -> list[tuple[str, str, float]]:
        """(split, hf_subset, main score as a 0–1 fraction) for every scored cell."""
        return [
            (split, entry["hf_subset"], float(entry["main_score"]))
            for split, entries in self.result.scores.items()
            for entry in entries
        ]

    def score(self) -> float:
        """Plain mean of the main score over all splits and subsets (0–1)."""
        return statistics.fmean(cell[2] for cell in self.cells())

    @property
    def items_path(self) -> Path:
        """Where this run's per-item scores are (or would be) kept."""
        return items_path(self.path)

    def items(self) -> PerItemScores | None:
        """The per-item scores beside the result, or None (an older run, or a task type
        without per-item scores: ``record["per_item"]["reason"]`` says why)."""
        path = self.items_path
        return PerItemScores.load(path) if path.is_file() else None

    @property
    def complete(self) -> bool:
        """False when mteb knows the task and the result lacks some of its splits or subsets."""
        return not self.missing_evaluations()

    def missing_evaluations(self) -> dict[str, list[str]] | None:
        """mteb's missing splits/subsets of this result; None when mteb lacks the task."""
        task = task_or_none(self.task)
        return None if task is None else self.result.get_missing_evaluations(task)


def _meta_for(folder: Path, cache: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    if folder not in cache:
        cache[folder] = read_json_or_none(folder / "model_meta.json") or {}
    return cache[folder]


def _identity(path: Path) -> tuple[Path, str | None]:
    """(revision folder, experiment folder name or None) of a result file."""
    if path.parent.parent.name == EXPERIMENTS_FOLDER:
        return path.parent.parent.parent, path.parent.name
    return path.parent, None


def _run_from_path(path: Path, metas: dict[Path, dict[str, Any]]) -> Run:
    revision_dir, experiment = _identity(path)
    default_meta = _meta_for(revision_dir, metas)
    meta = _meta_for(path.parent, metas)
    stored = read_json_or_none(run_record_path(path))
    record = dict(upgrade_record(stored)) if stored is not None else None
    kwargs = dict(meta.get("experiment_kwargs") or {}) if experiment else {}
    dim = kwargs.get("embed_dim", record_value(record, "model", "dim")) or meta.get("embed_dim")
    full_dim = record_value(record, "model", "full_dim") or default_meta.get("embed_dim")
    if experiment is None:
        full_dim = full_dim or dim
    try:
        result = TaskResult.from_disk(path)
    except ValueError as exc:
        raise HarnessError(f"cannot read result {path}: {exc}", "re-run that task") from exc
    return Run(
        model=meta.get("name")
        or default_meta.get("name")
        or revision_dir.parent.name.replace("__", "/"),
        revision=meta.get("revision") or default_meta.get("revision") or revision_dir.name,
        experiment=experiment,
        kwargs=kwargs,
        dim=int(dim) if dim else None,
        full_dim=int(full_dim) if full_dim else None,
        task=result.task_name,
        path=path,
        result=result,
        record=record,
    )


def load_runs(results_dir: Path) -> list[Run]:
    """Every task result under ``results_dir``, default runs and experiments alike."""
    paths = ResultsStore(Path(results_dir)).result_paths()
    metas: dict[Path, dict[str, Any]] = {}
    runs = [_run_from_path(path, metas) for path in sorted(paths)]
    return sorted(runs, key=lambda r: (r.model, r.revision, r.experiment or "", r.task))
