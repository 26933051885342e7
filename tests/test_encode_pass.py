"""The encode pass (run/encode_pass.py): mteb's own evaluation with an index that keeps nothing
encodes exactly the texts the cell then reads back, and a cell's record folds the pass in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mteb
import numpy as np
import pytest
import torch
from mteb.mocks.mock_tasks.retrieval import (
    MockMultilingualRetrievalTask,
    MockRetrievalDialogTask,
    MockRetrievalTask,
)
from mteb.mocks.mock_tasks.sts import MockSTSTask

from embharness.encoding.bridge import EncodeStats, HarnessEncoder, build_encoder, lazy_backend
from embharness.encoding.cache import EmbeddingCache
from embharness.models.loading import LoadSettings
from embharness.results.record import CellFacts
from embharness.run.encode_pass import OneHitIndex, PassFacts, encode_pass, pass_applies
from embharness.run.search import torch_search
from embharness.run.sweep import Settings
from embharness.specs.registry import get_spec

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def backend(minilm_path: Path) -> Any:
    spec = get_spec(MINILM, local_path=str(minilm_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield spec, lazy_backend(spec, LoadSettings(device="cpu"))
    torch.set_num_threads(threads)


def _encoder(backend: Any, dim: int, cache: Path) -> HarnessEncoder:
    spec, lazy = backend
    return build_encoder(spec, lazy, dim, batch_size=8, cache=EmbeddingCache(cache))


def _cell(encoder: HarnessEncoder, task: Any) -> Any:
    result = mteb.evaluate(torch_search(encoder), task, cache=None, show_progress_bar=False)
    return result.task_results[0]


@pytest.mark.parametrize(
    "task_class", [MockRetrievalTask, MockMultilingualRetrievalTask, MockRetrievalDialogTask]
)
def test_the_pass_encodes_exactly_what_the_cell_reads(
    backend: Any, tmp_path: Path, task_class: type
) -> None:
    """Every subset and split, queries (dialogs too) and corpus: after the pass, a cell at
    another dim misses nothing and looks up as many texts as the pass did, the pass encoded
    as many as the cell encodes on a cold cache, and the scores equal the cold cell's."""
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    done = encode_pass(_encoder(backend, 384, warm), task_class(), bar=None)
    assert done.stats.misses > 0 and done.wall_s > 0
    assert set(done.stats.plans) == {"query", "document"}

    after = _encoder(backend, 64, warm)
    scored = _cell(after, task_class())
    looked_up = done.stats.hits + done.stats.misses  # a text in two splits: a hit the 2nd time
    assert (after.stats.misses, after.stats.hits) == (0, looked_up)

    alone = _encoder(backend, 64, cold)
    reference = _cell(alone, task_class())
    assert (alone.stats.misses, alone.stats.hits) == (done.stats.misses, done.stats.hits)
    assert scored.scores == reference.scores


def test_the_one_hit_index_keeps_nothing_and_answers_every_query() -> None:
    index = OneHitIndex()
    queries = np.zeros((3, 4), np.float32)
    assert index.search(queries, 10, similarity_fn=np.dot) == ([[], [], []], [[], [], []])
    index.add_documents(np.ones((5, 4), np.float32), [f"d{i}" for i in range(5)])
    assert index.search(queries, 10, similarity_fn=np.dot) == ([[0.0]] * 3, [[0]] * 3)
    shortlists = {"q0": ["d3"], "q1": [], "q2": ["d1", "d2"]}
    rows = index.search(
        queries, 10, np.dot, top_ranked=shortlists, query_idx_to_id={0: "q0", 1: "q1", 2: "q2"}
    )
    assert rows == ([[0.0], [], [0.0]], [[0], [], [0]])
    index.clear()
    assert index.size == 0


def test_a_pass_applies_to_full_corpus_retrieval_only() -> None:
    assert pass_applies(MockRetrievalTask(), Settings())
    assert pass_applies(MockMultilingualRetrievalTask(), Settings(search="faiss"))
    assert not pass_applies(MockSTSTask(), Settings())
    assert not pass_applies(MockRetrievalTask(), Settings(chunking="late"))


def test_a_cell_s_facts_fold_its_pass_in() -> None:
    """Wall and encode time add up, every miss and retry counts, hits are the pass's (the
    worker's are the pass's misses read back), and the smaller effective batch wins."""
    done = PassFacts(
        EncodeStats(0, 90, 12.0, 3, 2, 16, 4096, {"query": {"side": "query"}}), 14.0, "float16"
    )
    own = EncodeStats(90, 0, 0.5, 0, 0, None, None, {"document": {"side": "document"}})
    facts = CellFacts(
        spec=None,  # type: ignore[arg-type]
        info=None,  # type: ignore[arg-type]
        task=None,  # type: ignore[arg-type]
        splits=["test"],
        max_samples=None,
        dim=64,
        stats=own,
        batch_size=32,
        max_batch_tokens=8192,
        max_length=512,
        loaded_dtype=None,
        wall_s=3.0,
        main_score=0.5,
    )
    folded = done.fold_into(facts)
    assert folded.wall_s == 17.0 and folded.loaded_dtype == "float16"
    stats = folded.stats
    assert (stats.hits, stats.misses, stats.truncated, stats.oom_retries) == (0, 90, 3, 2)
    assert stats.encode_s == 12.5
    assert (stats.effective_batch_size, stats.effective_max_batch_tokens) == (16, 4096)
    assert set(stats.plans) == {"query", "document"}
