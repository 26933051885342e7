"""The cells a runner has sent to its score pool, whole or in parts.

A job holds one future per cell, owned here and never cancelled: it completes with the
cell's outcome once the cell (or every part of it, joined by the runner) is done, or with the
first error. Behind it are the pool's own futures, one per order; those still queued at the
end of a run are taken back (``help``) and run in the runner, their results delivered the
same way as a worker's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from embharness.run.cell_parts import CellPart
    from embharness.run.options import CellOutcome
    from embharness.run.score_pool import CellOrder, ScorePool

Scored = Union["CellOutcome", "CellPart"]
Deliver = Callable[["Future[Scored]"], None]


class PoolCells:
    """Orders sent to ``pool``; ``join`` makes a cell's outcome from its parts (and writes it)."""

    def __init__(
        self, pool: ScorePool, join: Callable[[CellOrder, list[CellPart]], CellOutcome]
    ) -> None:
        self.pool = pool
        self.join = join
        self._queued: dict[Future[Scored], tuple[CellOrder, Deliver]] = {}
        self._lock = threading.Lock()

    def submit(self, order: CellOrder, groups: list[tuple[str, ...]]) -> Future[CellOutcome]:
        """The cell of ``order``, whole (one group) or one part per group of its subsets."""
        cell: Future[CellOutcome] = Future()
        cell.set_running_or_notify_cancel()  # the job's own future: never cancelled
        if len(groups) < 2:
            self._send(order, lambda done: _pass_on(done, cell))
            return cell
        parts = _Parts(cell, order, len(groups), self.join)
        for group in groups:
            self._send(replace(order, subsets=group), parts.add)
        return cell

    def help(self, run_here: Callable[[CellOrder], Scored]) -> None:
        """Run every order still queued in the pool here, last first."""
        with self._lock:
            queued = list(self._queued)
        for future in reversed(queued):
            if not future.cancel():
                continue  # a worker has it
            with self._lock:
                order, deliver = self._queued.pop(future)
            here: Future[Scored] = Future()
            here.set_running_or_notify_cancel()
            try:
                here.set_result(run_here(order))
            except Exception as exc:  # the cell's (or part's) error, delivered as a worker's
                here.set_exception(exc)
            deliver(here)

    def _send(self, order: CellOrder, deliver: Deliver) -> None:
        future = self.pool.submit(order)
        with self._lock:
            self._queued[future] = (order, deliver)
        future.add_done_callback(self._done)

    def _done(self, future: Future[Scored]) -> None:
        if future.cancelled():
            return  # taken back by ``help``, which delivers it
        with self._lock:
            _, deliver = self._queued.pop(future)
        deliver(future)


def _pass_on(done: Future[Scored], cell: Future[CellOutcome]) -> None:
    """A whole cell's outcome (or error) onto the job's future."""
    error = done.exception()
    if error is not None:
        cell.set_exception(error)
    else:
        cell.set_result(done.result())  # type: ignore[arg-type]


class _Parts:
    """Collects a cell's parts; the last one in joins them. A part's error fails the cell."""

    def __init__(
        self,
        cell: Future[CellOutcome],
        order: CellOrder,
        count: int,
        join: Callable[[CellOrder, list[CellPart]], CellOutcome],
    ) -> None:
        self.cell, self.order, self.count, self.join = cell, order, count, join
        self.done: list[CellPart] = []
        self.lock = threading.Lock()

    def add(self, part: Future[Scored]) -> None:
        """One part's result (or error)."""
        with self.lock:
            if self.cell.done():
                return  # an earlier part failed
            error = part.exception()
            if error is not None:
                self.cell.set_exception(error)
                return
            self.done.append(part.result())  # type: ignore[arg-type]
            if len(self.done) < self.count:
                return
        try:
            self.cell.set_result(self.join(self.order, self.done))
        except Exception as exc:
            self.cell.set_exception(exc)
