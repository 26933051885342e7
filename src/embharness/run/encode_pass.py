"""A job's encode pass: fill the embedding cache with every text of a retrieval task, score
nothing, so that all of the job's cells (its first one too) can go to the score pool.

Without it, a job's first cell encodes and then scores in the runner, and the GPU waits for
mteb's metrics (single-threaded Python, about 0.55 ms per query at top-1000, plus 0.3 ms per
query for the results dicts they read: 45 s for a COIR-CodeSearchNet cell, 15 % of its GPU
encode) before the next job's encode starts. With it, the runner only encodes; every cell of
the job is scored in a worker from the cache, beside the next job's encode.

The pass is ``mteb.evaluate`` itself over a ``SearchEncoderWrapper`` whose index keeps no
vectors and returns one hit per query: mteb makes exactly the encode calls the cell will make
(every subset and split, corpus and queries, the same prompts), so the cell finds every text
in the cache, and mteb's metrics run over one hit per query (microseconds each). Its result is
thrown away. Retrieval tasks only (``run.search.INDEXED_TYPES``): other task types encode
inside their evaluators, with nothing to stop before the scoring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from embharness.encoding.bridge import EncodeStats
from embharness.run.cell_steps import mteb_evaluate
from embharness.run.search import INDEXED_TYPES, indexed_search

if TYPE_CHECKING:
    from collections.abc import Callable

    from mteb.abstasks import AbsTask

    from embharness.encoding.bridge import HarnessEncoder
    from embharness.results.record import CellFacts
    from embharness.run.sweep import Settings


@dataclass(frozen=True)
class PassFacts:
    """What a cell's encode pass did, for the cell's run record (its worker adds its own)."""

    stats: EncodeStats
    wall_s: float
    loaded_dtype: str | None

    def fold_into(self, facts: CellFacts) -> CellFacts:
        """The cell's facts with the pass counted: wall and encode time added, every cache
        miss and out-of-memory retry counted (the cell's own are 0 when the cache served it),
        hits as the pass found them, and the dtype of the weights the pass loaded."""
        stats = replace(EncodeStats.summed([self.stats, facts.stats]), hits=self.stats.hits)
        loaded = facts.loaded_dtype or self.loaded_dtype
        return replace(facts, stats=stats, wall_s=facts.wall_s + self.wall_s, loaded_dtype=loaded)


def pass_applies(task: AbsTask, settings: Settings) -> bool:
    """Whether ``task``'s texts all reach the encoder through a search wrapper's ``index`` and
    ``search``: a full-corpus retrieval task, documents not split into chunks."""
    from mteb.abstasks import AbsTaskRetrieval

    return (
        isinstance(task, AbsTaskRetrieval)
        and task.metadata.type in INDEXED_TYPES
        and settings.chunking == "truncate"
    )


def encode_pass(encoder: HarnessEncoder, task: AbsTask, bar: Any) -> PassFacts:
    """Encode (or find in the cache) every text ``task``'s evaluation encodes; score nothing
    that counts. ``bar``: the cell's progress bar."""
    start = time.perf_counter()
    encoder.engine.progress = bar
    mteb_evaluate(indexed_search(encoder, OneHitIndex()), task, encoder)
    wall = time.perf_counter() - start
    return PassFacts(replace(encoder.stats), wall, encoder.backend.loaded_dtype())


class OneHitIndex:
    """An index for mteb's ``SearchEncoderWrapper`` that keeps no vectors: every query's one
    hit is the corpus' first document (or its shortlist's first), scored 0."""

    def __init__(self) -> None:
        self.size = 0

    def add_documents(self, embeddings: Any, idxs: list[str]) -> None:
        """Count the documents; keep nothing."""
        self.size += len(idxs)

    def search(
        self,
        embeddings: Any,
        top_k: int,
        similarity_fn: Callable[[Any, Any], Any],
        top_ranked: dict[str, list[str]] | None = None,
        query_idx_to_id: dict[int, str] | None = None,
    ) -> tuple[list[list[float]], list[list[int]]]:
        """One (0.0, first document) hit per query; none for a query without a shortlist."""
        rows = len(embeddings)
        if top_ranked is None:
            has_hit = [self.size > 0] * rows
        else:
            ids = query_idx_to_id or {}
            has_hit = [bool(top_ranked.get(ids.get(row, ""), [])) for row in range(rows)]
        return [[0.0] if hit else [] for hit in has_hit], [[0] if hit else [] for hit in has_hit]

    def clear(self) -> None:
        """Forget the count."""
        self.size = 0
