"""Run a sweep: every (model, task, dim) cell through ``mteb.evaluate``, resumable and cached.

Dims of one model share one encode: every dim's encoder reads the same full-dim vectors from
the embedding cache and projects them, so only the first dim of a task pays for the model.
With ``score_workers``, the other cells of a job go to a ``run.score_pool.ScorePool`` (they only
rank and score cached vectors) while the runner starts the next job; a retrieval job's first
cell goes there too, after an encode pass here (``run.encode_pass``) has filled the cache.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

import click
from tqdm.auto import tqdm

from embharness.atomic import clean_stale_temp_files
from embharness.encoding.bridge import HarnessEncoder, LazyBackend
from embharness.encoding.cache import EmbeddingCache
from embharness.errors import HarnessError
from embharness.hub import ensure_available
from embharness.models.backend import Backend
from embharness.models.loading import load_backend
from embharness.results.per_query import PerItemScores
from embharness.results.record import build_record
from embharness.results.schema import RunRecord
from embharness.results.store import ResultsStore
from embharness.run.cell_identity import cell_model_meta
from embharness.run.cell_parts import CellPart, join_parts, narrowed, subset_groups
from embharness.run.cell_steps import (
    CellRun,
    cell_encoder,
    cell_facts,
    cell_line,
    evaluate_cell,
    job_plan,
    precision_meta,
    searching_model,
)
from embharness.run.cells import PreparedModel, check_tasks, prepare_model
from embharness.run.encode_pass import PassFacts, encode_pass, pass_applies
from embharness.run.grid import grid_precisions
from embharness.run.leases import acquire
from embharness.run.open_jobs import OpenJob, record_failure, settle
from embharness.run.options import OVERWRITE_MODES, CellOutcome, RunOptions
from embharness.run.pool_cells import PoolCells
from embharness.run.score_pool import CellOrder, ScorePool, pool_supported, pool_useful
from embharness.run.sweep import Sweep, TaskEntry
from embharness.run.task_loading import TaskLoader

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask
    from mteb.models import ModelMeta
    from mteb.results import TaskResult

log = logging.getLogger(__name__)


def _main_score(task_result: TaskResult) -> float:
    return float(task_result.get_score())


class SweepRunner:
    """Executes the cells of a sweep in order, skipping finished ones."""

    def __init__(
        self, sweep: Sweep, options: RunOptions, say: Callable[[str], None] | None = None
    ) -> None:
        if options.overwrite not in OVERWRITE_MODES:
            raise HarnessError(
                f"unknown --overwrite {options.overwrite!r}",
                f"use one of {', '.join(OVERWRITE_MODES)}",
            )
        check_tasks(sweep.tasks)
        self.sweep = sweep
        self.options = options
        self.say = say or _to_stderr  # one line per cell, the run's progress on a log
        self.models = [prepare_model(m) for m in sweep.models]
        self.store = ResultsStore(options.results_dir)
        self.cache = EmbeddingCache(options.cache_dir) if options.cache_dir else None
        self.tasks = TaskLoader()
        self.total = sum(_job_cells(m) for m in self.models) * len(sweep.tasks)
        self.done = 0
        self.launch: tuple[str, str | None] = ("local", None)  # (launcher, job id): run_job
        self._backends: dict[str, LazyBackend] = {}  # by model name
        self.process = "runner"  # a score pool's worker runner says "score_worker"
        self._cells: PoolCells | None = None  # cells sent to the run's score pool

    def run(self) -> list[CellOutcome]:
        """Run every cell, each (model, task) job under its lease; returns one outcome per cell.

        A job whose lease another live worker holds (a launcher on the same results folder)
        is left to it: its cells are ``running elsewhere``. With ``score_workers``, a job's
        cache-served cells go to a ``ScorePool`` while the next job starts here; its lease is
        held until they are done.
        """
        self.store.check_writable()
        for folder in (self.options.results_dir, self.options.cache_dir):
            if folder is not None:
                clean_stale_temp_files(folder)
        jobs: list[OpenJob] = []
        with contextlib.ExitStack() as stack:
            pool = self._open_pool(stack)
            for model in self.models:
                backend = self._backend(model)
                for task in self.sweep.tasks:
                    settle(jobs, self.options.results_dir, block=False)
                    jobs.append(self._start_job(model, backend, task, stack, pool))
            if self._cells is not None:  # the pool's queued cells, here rather than waiting
                self._cells.help(self.score_cell)
            settle(jobs, self.options.results_dir, block=True)
        return [outcome for job in jobs for outcome in job.outcomes()]

    def _open_pool(self, stack: contextlib.ExitStack) -> ScorePool | None:
        """The run's score pool, or None: no workers asked for, no cache for them to read
        from, or no forkserver on this platform."""
        workers = self.options.score_workers
        if workers < 1 or self.cache is None or not pool_supported():
            return None
        if not pool_useful(self.sweep):
            return None
        pool = stack.enter_context(ScorePool(self.sweep, self.options, workers))
        self._cells = PoolCells(pool, self._join)
        return pool

    def find_job(self, model_name: str, task_name: str) -> tuple[PreparedModel, TaskEntry]:
        """The prepared model and task entry of one (model, task) job of this sweep."""
        model = next((m for m in self.models if m.spec.name == model_name), None)
        task = next((t for t in self.sweep.tasks if t.name == task_name), None)
        if model is None or task is None:
            raise HarnessError(
                f"job {model_name} × {task_name} is not in this sweep",
                "check the sweep file and its --models/--tasks filters",
            )
        return model, task

    def run_job(
        self,
        model_name: str,
        task_name: str,
        launcher: str = "local",
        job_id: str | None = None,
        retry_of: frozenset[str] = frozenset(),
    ) -> list[CellOutcome]:
        """Run ONE (model, task) job, every dim from one encode, under the job's lease.

        ``retry_of`` names the job ids this run replaces (their leases are taken over at once).
        """
        model, task = self.find_job(model_name, task_name)
        self.launch = (launcher, job_id)
        backend = self._backend(model)
        with contextlib.ExitStack() as stack:
            job = self._start_job(model, backend, task, stack, None, retry_of)
            settle([job], self.options.results_dir, block=True)
        return job.outcomes()

    def score_cell(self, order: CellOrder) -> CellOutcome | CellPart:
        """Run a cell that a ``ScorePool`` sent to this (worker) runner, or, for an order with
        ``subsets``, score that part of it and return it unwritten (``_join`` writes)."""
        model, task = self.find_job(order.model, order.task)
        self.launch = order.launch
        meta = precision_meta(model, task, order.dim, order.precision)
        backend = self._backend(model)
        cell = (order.dim, meta, order.number, order.precision)
        if order.subsets is not None:
            return self._score(model, backend, task, cell, order.subsets)
        names = (order.model, order.task)
        return self._write(self._score(model, backend, task, cell), meta, names, order.prior)

    def _join(self, order: CellOrder, parts: list[CellPart]) -> CellOutcome:
        """A cell scored in parts, joined (``run.cell_parts``) and written."""
        model, task = self.find_job(order.model, order.task)
        meta = precision_meta(model, task, order.dim, order.precision)
        joined = join_parts(self._task(model, task), parts)
        return self._write(joined, meta, (order.model, order.task), order.prior)

    def _task(self, model: PreparedModel, task: TaskEntry) -> AbsTask:
        """The loaded task of a job, capped at its (or its model's) ``max_samples``."""
        return self.tasks.get(task, task.max_samples or model.entry.settings.max_samples)

    def _backend(self, model: PreparedModel) -> LazyBackend:
        """The model's backend in this process, loaded on its first cache miss."""
        if model.spec.name not in self._backends:
            load = functools.partial(self._load, model)
            self._backends[model.spec.name] = LazyBackend(model.info, load)
        return self._backends[model.spec.name]

    def _start_job(
        self,
        model: PreparedModel,
        backend: LazyBackend,
        task: TaskEntry,
        stack: contextlib.ExitStack,
        pool: ScorePool | None,
        retry_of: frozenset[str] = frozenset(),
    ) -> OpenJob:
        """A job's cells under its lease (kept until ``settle`` finds them done). A live lease
        held by another worker makes every cell ``running elsewhere``; a failure writes the
        job's failure file (first error line, log path) and re-raises."""
        root, name, task_name = self.options.results_dir, model.spec.name, task.name
        launcher, job_id = self.launch
        timeout = self.options.lease_timeout_s
        lease = acquire(root, name, task_name, launcher, job_id, timeout, retry_of)
        if lease is None:
            self.done += _job_cells(model)
            self._say(f"{name} × {task_name}: running elsewhere (a live lease), left to it")
            elsewhere = [CellOutcome(name, task_name, d, "running elsewhere") for d in model.dims]
            return OpenJob(
                name, task_name, None, list[CellOutcome | Future[CellOutcome]](elsewhere)
            )
        stack.callback(lease.release)
        try:
            cells = self._run_task(model, backend, task, pool)
        except Exception as exc:
            record_failure(root, name, task_name, exc)
            raise
        return OpenJob(name, task_name, lease, cells)

    def _load(self, model: PreparedModel) -> Backend:
        if not model.info.weights_hash:
            ensure_available(model.spec.name, model.spec.revision)
        return load_backend(model.spec, model.load)

    def cell_meta(self, model: PreparedModel, task: TaskEntry, dim: int) -> ModelMeta:
        """The mteb ``ModelMeta`` that names this cell's result (see ``cell_model_meta``)."""
        return cell_model_meta(model, task, dim)

    def _should_skip(self, meta: ModelMeta, task: TaskEntry, splits: list[str]) -> bool:
        mode = self.options.overwrite
        if mode == "always":
            return False
        if mode == "never":
            return self.store.exists(meta, task.name)
        return self.store.covers(meta, task.name, splits)

    def _run_task(
        self, model: PreparedModel, backend: LazyBackend, task: TaskEntry, pool: ScorePool | None
    ) -> list[CellOutcome | Future[CellOutcome]]:
        """The job's cells in order: finished ones skipped, the first to run here (it fills
        the embedding cache; or, see ``_first_cell``, an encode pass does), the rest in
        ``pool`` where there is one."""
        cells: list[CellOutcome | Future[CellOutcome]] = []
        encoded = False
        for dim, precision, meta in self._job_plan(model, task):
            self.done += 1
            name, label = model.spec.name, f"[cell {self.done}/{self.total}]"
            if self._should_skip(meta, task, self.tasks.splits(task)):
                self._say(f"{label} {name} × {task.name} @ {dim}: done earlier, skipped")
                cells.append(
                    CellOutcome(name, task.name, dim, "skipped", precision=precision or "float32")
                )
            elif pool is not None and encoded:
                order = CellOrder(name, task.name, dim, precision, self.done, self.launch)
                cells.append(self._submit(model, task, order))
            else:
                cells.append(self._first_cell(model, backend, task, (dim, precision, meta), pool))
                encoded = True
        return cells

    def _first_cell(
        self,
        model: PreparedModel,
        backend: LazyBackend,
        task: TaskEntry,
        cell: tuple[int, str | None, ModelMeta],
        pool: ScorePool | None,
    ) -> CellOutcome | Future[CellOutcome]:
        """A job's first cell to run: with a pool and a retrieval task, an encode pass here
        and the cell itself in the pool (``run.encode_pass``); otherwise the cell here."""
        dim, precision, meta = cell
        task_obj = self._task(model, task)
        if pool is not None and pass_applies(task_obj, model.entry.settings):
            encoder = self._cell_encoder(model, backend, task, dim, meta, self.done)
            with self._cell_bar(encoder.label) as bar:
                done = encode_pass(encoder, task_obj, bar)
            order = CellOrder(model.spec.name, task.name, dim, precision, self.done, self.launch)
            return self._submit(model, task, dataclasses.replace(order, prior=done))
        outcome = self._run_cell(model, backend, task, (dim, meta, self.done, precision))
        self._say(self._cell_line(self.done, outcome))
        return outcome

    def _submit(
        self, model: PreparedModel, task: TaskEntry, order: CellOrder
    ) -> Future[CellOutcome]:
        """``order``'s cell sent to the pool, a retrieval task's subsets in as many parts as
        the pool has processes (its workers and, at the end, this one); its line printed
        when it is done."""
        assert self._cells is not None
        task_obj = self._task(model, task)
        parts = self.options.score_workers + 1
        split = pass_applies(task_obj, model.entry.settings)
        groups: list[tuple[str, ...]] = subset_groups(task_obj, parts) if split else [()]
        return self._announced(self._cells.submit(order, groups), order.number)

    def _job_plan(
        self, model: PreparedModel, task: TaskEntry
    ) -> list[tuple[int, str | None, ModelMeta]]:
        """The job's cells (``cell_steps.job_plan``); grid points its task lacks count as done."""
        plan, lacking = job_plan(model, task, lambda: self._task(model, task))
        self.done += lacking
        return plan

    def _announced(self, future: Future[CellOutcome], number: int) -> Future[CellOutcome]:
        """``future``, which prints its cell's line when it finishes without an error (a
        job's futures are never cancelled: ``PoolCells`` owns them)."""

        def announce(done: Future[CellOutcome]) -> None:
            if done.exception() is None:
                self._say(self._cell_line(number, done.result()))

        future.add_done_callback(announce)
        return future

    def _cell_line(self, number: int, outcome: CellOutcome) -> str:
        record = cast("RunRecord", outcome.record)
        return cell_line(number, self.total, outcome.model, outcome.task, outcome.dim, record)

    def _run_cell(
        self,
        model: PreparedModel,
        backend: LazyBackend,
        task: TaskEntry,
        cell: tuple[int, ModelMeta, int, str | None],
    ) -> CellOutcome:
        """Run one cell here (``cell``: dim, meta, number, precision) and write its result."""
        names = (model.spec.name, task.name)
        return self._write(self._score(model, backend, task, cell), cell[1], names)

    def _score(
        self,
        model: PreparedModel,
        backend: LazyBackend,
        task: TaskEntry,
        cell: tuple[int, ModelMeta, int, str | None],
        subsets: tuple[str, ...] | None = None,
    ) -> CellPart:
        """Score one cell (``subsets``: only those of its task's), writing nothing."""
        dim, meta, number, precision = cell
        task_obj = self._task(model, task)
        if subsets is not None:
            task_obj = narrowed(task_obj, subsets)
        encoder = self._cell_encoder(model, backend, task, dim, meta, number)
        evaluated, search = searching_model(encoder, task_obj, model.entry.settings, precision)
        start = time.perf_counter()
        task_result, items = self._evaluate(evaluated, task_obj, encoder)
        scored = (time.perf_counter() - start, _main_score(task_result), items)
        run = CellRun(precision, self.launch, self.process)
        facts = cell_facts(model, task, task_obj, encoder, scored, search, run)
        return CellPart(task_result, items, facts)

    def _write(
        self,
        scored: CellPart,
        meta: ModelMeta,
        names: tuple[str, str],
        prior: PassFacts | None = None,
    ) -> CellOutcome:
        """Write a scored cell's result and record (``names``: its model and task;
        ``prior``: its encode pass, if it had one)."""
        facts = scored.facts if prior is None else prior.fold_into(scored.facts)
        record = build_record(facts)
        self.store.write(scored.task_result, meta, record, scored.items)
        main, wall = record["main_score"], facts.wall_s
        return CellOutcome(*names, facts.dim, "ran", main, wall, dict(record), facts.precision)

    def _cell_encoder(
        self,
        model: PreparedModel,
        backend: LazyBackend,
        task: TaskEntry,
        dim: int,
        meta: ModelMeta,
        number: int,
    ) -> HarnessEncoder:
        """The encoder of cell ``number``: the model's batching, this run's cache."""
        cell = (dim, meta)
        encoder = cell_encoder(model, backend, task, cell, self.cache, self.options.show_progress)
        encoder.label = f"cell {number}/{self.total} {task.name}@{dim}"
        return encoder

    def _evaluate(
        self, evaluated: Any, task_obj: AbsTask, encoder: HarnessEncoder
    ) -> tuple[TaskResult, PerItemScores]:
        """``evaluate_cell`` with the cell's progress bar."""
        with self._cell_bar(encoder.label) as bar:
            encoder.engine.progress = bar
            return evaluate_cell(evaluated, task_obj, encoder)

    def _cell_bar(self, label: str) -> tqdm:
        """One progress bar per cell (texts encoded), drawn only where progress is shown."""
        return tqdm(total=0, desc=label, unit="text", disable=not self.options.show_progress)

    def _say(self, line: str) -> None:
        self.say(line)


def _job_cells(model: PreparedModel) -> int:
    """The cells of one (model, task) job: every dim, float32 and each grid precision."""
    return len(model.dims) * (1 + len(grid_precisions(model.entry.settings.precisions)))


def _to_stderr(line: str) -> None:
    click.echo(line, err=True)
