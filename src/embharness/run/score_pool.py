"""Score a job's cache-served cells in worker processes while the runner goes on.

Once a (model, task) job's first cell has run, or its encode pass (``run.encode_pass``, for
retrieval tasks), every text of the task is in the embedding cache at full dim. Each of the
job's cells (a smaller Matryoshka dim, a precision-grid point; after a pass, the first one too)
then only reads vectors back, ranks the corpus and scores the ranking: mteb's metrics
(pytrec_eval, its ``mrr`` and nAUC abstention) are pure Python, single-threaded, and cost the
same at every dim (a 3,385-query cell at top-1000: about 3 s on one core). Run one after the
other, they made a 5-dim warm sweep of the offline suite 2.7× one dim.

``ScorePool`` sends those cells to ``workers`` processes, and the runner goes on to the next
job's first cell (its encode, on the GPU where there is one) meanwhile. A multi-subset
retrieval cell goes in parts, a group of its subsets each (``run.cell_parts``), which the
runner joins and writes (``run.pool_cells``). A worker is a copy of
the runner built from the same sweep and options; it loads each task it is sent once, and a
cache miss (a quarantined segment) loads the model there, as a resumed run would.

Processes come from a forkserver, not from ``fork``: the server starts clean and imports the
runner once, and every worker forks from it. A plain fork of the runner would copy whatever
the parent holds by then, CUDA state that a child cannot use and threads (lease heartbeats)
whose locks it could inherit held. A worker exits as soon as the runner does (``kill -9``
included: it watches the runner's pid), so nothing writes after its runner is gone, and the
forkserver, whose lifeline the workers hold, exits after them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from embharness.atomic import pid_alive

if TYPE_CHECKING:
    from embharness.run.cell_parts import CellPart
    from embharness.run.encode_pass import PassFacts
    from embharness.run.options import CellOutcome, RunOptions
    from embharness.run.runner import SweepRunner
    from embharness.run.sweep import Sweep

# The default's cap: 4 workers take the other 4 dims of a 5-dim job at once. Each holds its
# tasks and one ranking's dicts (a COIR-CodeSearchNet cell at top-1000: 52 M entries, several
# GB of host memory) and, on a GPU host, a CUDA context and the corpus at its dim; more
# workers mostly add that memory.
MAX_AUTO_WORKERS = 4
# Imported once by the forkserver, so that no worker pays for them on its first cell: the runner,
# and sentence-transformers, which mteb.evaluate imports on first use (2.5 s of a worker's
# first 3,385-query cell otherwise).
PRELOAD = ["embharness.run.runner", "sentence_transformers"]
_WORKER: SweepRunner | None = None


@dataclass(frozen=True)
class CellOrder:
    """One cell for a worker: which job, dim and precision, and its number in the run; with
    ``subsets``, one part of the cell (``run.cell_parts``), scored and returned unwritten."""

    model: str
    task: str
    dim: int
    precision: str | None
    number: int
    launch: tuple[str, str | None] = ("local", None)
    prior: PassFacts | None = None  # the job's encode pass, sent with its first cell
    subsets: tuple[str, ...] | None = None  # a part of the cell: these subsets (cell_parts)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def auto_workers() -> int:
    """Workers where the user names none: one per core beside the runner's, at least one,
    at most ``MAX_AUTO_WORKERS``."""
    return max(1, min(available_cores() - 1, MAX_AUTO_WORKERS))


def pool_supported() -> bool:
    """Whether this platform has a forkserver (Linux and macOS do; Windows does not)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def pool_useful(sweep: Sweep) -> bool:
    """Whether some job of ``sweep`` has more than one cell (another dim, a grid point): a
    sweep of one cell per job leaves a pool nothing to take while the runner encodes."""
    from embharness.run.grid import grid_precisions

    return any(len(m.dims) > 1 or grid_precisions(m.settings.precisions) for m in sweep.models)


def start_forkserver() -> None:
    """Start the pool's forkserver now, so that its imports (``PRELOAD``, several seconds)
    run beside the runner's own start-up; the ``ScorePool`` opened later forks from it."""
    if not pool_supported():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


class ScorePool:
    """Worker processes that run cells from the embedding cache (see the module docstring)."""

    def __init__(self, sweep: Sweep, options: RunOptions, workers: int) -> None:
        start_forkserver()  # a no-op where the CLI started it already
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_start_worker,
            initargs=(sweep, options, os.getpid()),
        )
        for _ in range(workers):  # start them now, beside the runner's model load and encode
            self._executor.submit(os.getpid)

    def submit(self, order: CellOrder) -> Future[CellOutcome | CellPart]:
        """Run ``order``'s cell in a worker; the future holds its outcome or its error."""
        return self._executor.submit(_score_cell, order)

    def close(self, cancel: bool = False) -> None:
        """Wait for the running cells (and, unless ``cancel``, the queued ones), then stop."""
        self._executor.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> ScorePool:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(cancel=exc_type is not None)


def _start_worker(sweep: Sweep, options: RunOptions, runner_pid: int) -> None:
    """A worker's set-up: exit with the runner, one torch thread, the runner's console
    settings, and its own runner (no progress bars, no lines: the runner prints them)."""
    global _WORKER
    _exit_with_runner(runner_pid)
    import torch

    from embharness.run.console import configure_console
    from embharness.run.runner import SweepRunner

    torch.set_num_threads(1)  # the pool's processes are the parallelism
    configure_console(options.verbose, quiet=True, is_tty=False)
    quiet = replace(options, show_progress=False, score_workers=0)
    _WORKER = SweepRunner(sweep, quiet, say=_silent)
    _WORKER.process = "score_worker"


def _score_cell(order: CellOrder) -> CellOutcome | CellPart:
    if _WORKER is None:
        raise RuntimeError("score worker used before its initializer ran")
    return _WORKER.score_cell(order)


def _silent(_: str) -> None:
    pass


def _exit_with_runner(runner_pid: int) -> None:
    """End this worker at once when the runner exits, however it exits (``kill -9``
    included): a daemon thread waits on a pidfd of the runner (Linux), else polls it."""

    def watch() -> None:
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                fd = os.pidfd_open(runner_pid)
                select.select([fd], [], [])  # readable once the runner has exited
                os._exit(1)
        while pid_alive(runner_pid):
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="runner-watch").start()
