"""ANN search backends: exhaustive HNSW equals exact search; IVF-PQ is valid and scored by mteb;
an ANN setting names an experiment folder; bad parameters give one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embharness.errors import HarnessError
from embharness.run.ann import ann_index, check_search_params, parse_search_label, search_label
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"


class _Cosine:
    """The bit of an mteb encoder an index reads: a cosine model's meta."""

    def __init__(self) -> None:
        from embharness.specs.registry import get_spec

        self.mteb_model_meta = get_spec(MINILM).to_model_meta(64)


def _unit(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _exact(docs: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ docs.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return top, np.take_along_axis(scores, top, axis=1)


def test_exhaustive_hnsw_returns_exact_top_k() -> None:
    rng = np.random.default_rng(0)
    docs, queries = _unit(rng, 500), _unit(rng, 40)
    index = ann_index("faiss-hnsw", {"M": 8, "ef_construction": 40, "ef_search": 500}, _Cosine())
    index.add_documents(docs, [f"d{i}" for i in range(500)])
    scores, ids = index.search(queries, 10)
    want_ids, want_scores = _exact(docs, queries, 10)
    assert np.array_equal(np.array(ids), want_ids)
    np.testing.assert_allclose(np.array(scores), want_scores, atol=1e-5)


def test_ivfpq_returns_valid_ranked_hits() -> None:
    rng = np.random.default_rng(1)
    docs, queries = _unit(rng, 800), _unit(rng, 30)
    params = check_search_params("faiss-ivfpq", {"m": 8, "nbits": 5, "nprobe": 4})
    assert params is not None
    index = ann_index("faiss-ivfpq", params, _Cosine())
    index.add_documents(docs, [f"d{i}" for i in range(800)])
    scores, ids = index.search(queries, 10)
    for row_ids, row_scores in zip(ids, scores, strict=True):
        assert 0 < len(row_ids) <= 10 and len(set(row_ids)) == len(row_ids)
        assert all(0 <= i < 800 for i in row_ids)
        assert row_scores == sorted(row_scores, reverse=True)


def _run(root: Path, cache: Path, settings: dict[str, Any]) -> Path:
    sweep = parse_sweep(
        {
            "settings": settings,
            "models": [{"name": MINILM, "dims": [384]}],
            "tasks": [{"name": TASK, "max_samples": 60}],
        }
    )
    outcomes = SweepRunner(sweep, RunOptions(root, cache, show_progress=False)).run()
    assert [o.status for o in outcomes] == ["ran"]
    (path,) = [p for p in root.rglob(f"{TASK}.json") if "_embharness" not in p.parts]
    return path


def _metrics(path: Path) -> dict[str, float]:
    (row,) = json.loads(path.read_text())["scores"]["test"]
    return {k: v for k, v in row.items() if isinstance(v, int | float)}


def test_ann_cells_name_folders_and_score_through_mteb(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    exact = _run(tmp_path / "exact", cache, {"search": "faiss"})
    hnsw = _run(
        tmp_path / "hnsw",
        cache,
        {"search": "faiss-hnsw", "search_params": {"M": 8, "ef_search": 4096}},
    )
    ivf = _run(tmp_path / "ivf", cache, {"search": "faiss-ivfpq", "search_params": {"nbits": 4}})
    # Exact search names no experiment; each ANN setting names its own folder.
    assert exact.parent.name != hnsw.parent.name != ivf.parent.name
    assert hnsw.parent.name.endswith("search_faiss-hnsw-M8-efc80-efs4096")
    assert "search_faiss-ivfpq-nlistauto-m32-nbits4-nprobe16" in ivf.parent.name
    got, want = _metrics(hnsw), _metrics(exact)
    assert got.keys() == want.keys() and "ndcg_at_10" in got
    for key, value in got.items():
        assert value == pytest.approx(want[key], abs=1e-6, nan_ok=True), key
    approx = _metrics(ivf)
    assert approx.keys() == want.keys() and 0 < approx["ndcg_at_10"] <= 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"search": "faiss-hnsw", "search_params": {"ef": 3}}, "unknown search_params"),
        ({"search": "faiss-hnsw", "search_params": {"M": 0}}, "M must be an integer >= 1"),
        ({"search": "faiss", "search_params": {"M": 8}}, "apply to faiss-hnsw and faiss-ivfpq"),
        ({"search": "faiss-ivfpq", "search_params": {"nbits": 20}}, "nbits must be <= 16"),
    ],
)
def test_bad_search_params_are_one_line_errors(settings: dict, message: str) -> None:
    with pytest.raises(HarnessError, match=message) as caught:
        parse_sweep({"settings": settings, "models": [MINILM], "tasks": ["X"]})
    assert "\n" not in str(caught.value)


def test_ivfpq_too_small_corpus_is_a_one_line_error() -> None:
    index = ann_index("faiss-ivfpq", {"nlist": 0, "m": 8, "nbits": 8, "nprobe": 1}, _Cosine())
    with pytest.raises(HarnessError, match="needs >= 256 documents"):
        index.add_documents(_unit(np.random.default_rng(2), 100), [str(i) for i in range(100)])


def test_labels_and_defaults() -> None:
    assert search_label("faiss", check_search_params("faiss", None), TASK) is None
    params = check_search_params("faiss-hnsw", {"ef_search": 64})
    assert params == {"M": 32, "ef_construction": 80, "ef_search": 64}
    label = search_label("faiss-hnsw", params, TASK)
    assert label == "faiss-hnsw-M32-efc80-efs64"
    assert parse_search_label(label) == ("faiss-hnsw", params)
    ivf = check_search_params("faiss-ivfpq", {"nbits": 4})
    assert ivf is not None
    assert parse_search_label(str(search_label("faiss-ivfpq", ivf, TASK))) == ("faiss-ivfpq", ivf)
    assert parse_search_label("faiss-hnsw-X3") is None and parse_search_label("faiss") is None


@pytest.mark.parametrize(
    ("task", "indexed"),
    [
        ("HumanEvalRetrievalOffline", True),  # Retrieval: ranked through the index
        ("SciFact", True),
        ("ManpagesBitextMining", False),  # no search at all
        ("SciDocsRR", False),  # Reranking: mteb ranks the given shortlists (run/search.py)
        ("STSBenchmark", False),
    ],
)
def test_only_indexed_tasks_get_an_ann_label(task: str, indexed: bool) -> None:
    from embharness.run.search import INDEXED_TYPES
    from embharness.tasks.registry import get_task

    params = check_search_params("faiss-hnsw", None)
    found = get_task(task)
    assert (found.metadata.type in INDEXED_TYPES) is indexed  # the independent rule
    assert (search_label("faiss-hnsw", params, task) is not None) is indexed


def test_non_retrieval_cell_keeps_the_exact_folder(tmp_path: Path) -> None:
    def run(search: str) -> Path:
        sweep = parse_sweep(
            {
                "settings": {"search": search},
                "models": [{"name": MINILM, "dims": [384]}],
                "tasks": [{"name": "ManpagesBitextMining", "max_samples": 30}],
            }
        )
        root = tmp_path / search
        SweepRunner(sweep, RunOptions(root, tmp_path / "cache", show_progress=False)).run()
        (path,) = [
            p for p in root.rglob("ManpagesBitextMining.json") if "_embharness" not in p.parts
        ]
        return path.relative_to(root)

    # The search setting does not apply to bitext mining: the exact run's folder (its sample
    # cap names the experiment), no search label.
    ann = run("faiss-hnsw")
    assert ann == run("faiss") and ann.parent.name == "max_samples_30"
