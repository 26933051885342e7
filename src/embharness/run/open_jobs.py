"""A (model, task) job whose cells may still be running in a score pool, and its settling.

A job holds its lease until every cell is done, wherever the cells ran; then ``settle``
clears or writes the job's failure file and releases the lease, in that order, as a job
that ran start to end in one process does.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path

from embharness.run.leases import Lease, clear_failure, write_failure
from embharness.run.options import CellOutcome


@dataclass
class OpenJob:
    """A started job: its cells (outcomes, or futures of cells sent to a pool) and lease."""

    model: str
    task: str
    lease: Lease | None  # None: another worker holds the job
    cells: list[CellOutcome | Future[CellOutcome]]
    settled: bool = False

    def futures(self) -> list[Future[CellOutcome]]:
        """The cells sent to a pool."""
        return [cell for cell in self.cells if isinstance(cell, Future)]

    def finished(self) -> bool:
        """Whether no cell of the job is still queued or running."""
        return all(future.done() for future in self.futures())

    def error(self) -> BaseException | None:
        """The first error among the job's pool cells (in cell order), if any. The futures
        are the job's own (``run.pool_cells``), never cancelled."""
        return next((f.exception() for f in self.futures() if f.exception() is not None), None)

    def outcomes(self) -> list[CellOutcome]:
        """Every cell's outcome, in cell order (the job must be finished)."""
        return [cell.result() if isinstance(cell, Future) else cell for cell in self.cells]


def settle(jobs: list[OpenJob], results_dir: Path, block: bool) -> None:
    """Close every finished job (with ``block``, wait for each first): clear its failure
    file, or write it and raise the job's error, then release its lease."""
    for job in jobs:
        if job.settled or job.lease is None:
            job.settled = True
            continue
        if block:
            wait(job.futures())
        elif not job.finished():
            continue
        job.settled = True
        error = job.error()
        try:
            if error is not None:
                record_failure(results_dir, job.model, job.task, error)
                raise error
            clear_failure(results_dir, job.model, job.task)
        finally:
            job.lease.release()


def record_failure(results_dir: Path, model: str, task: str, error: BaseException) -> None:
    """Write a job's failure file, naming the log this process writes to (``EMBHARNESS_LOG``,
    set by the launchers; None for a local run)."""
    write_failure(results_dir, model, task, error, os.environ.get("EMBHARNESS_LOG"))
