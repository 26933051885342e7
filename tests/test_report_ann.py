"""The report's "Approximate search" section: the ANN bench's rows (written by the bench's own
functions on a tiny synthetic corpus) and a sweep's ANN experiment folder, one row each."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from embharness.errors import HarnessError
from embharness.report.ann_table import COLUMNS, RESULTS_FILE, load_bench_rows
from embharness.report.build import build_report
from embharness.report.intervals import CISettings
from embharness.run.options import RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TASK = "HumanEvalRetrievalOffline"
DOCS, QUERIES, DIM = 600, 40, 64


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ann.py"
    spec = importlib.util.spec_from_file_location("bench_ann", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _synthetic() -> dict[str, Any]:
    """Unit docs; query i is doc i plus noise, doc i its only relevant document."""
    rng = np.random.default_rng(0)
    docs = rng.standard_normal((DOCS, DIM)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = docs[:QUERIES] + 0.3 * rng.standard_normal((QUERIES, DIM)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return {
        "docs": docs,
        "queries": queries,
        "doc_ids": [f"d{i}" for i in range(DOCS)],
        "query_ids": [f"q{i}" for i in range(QUERIES)],
        "qrels": {f"q{i}": {f"d{i}": 1} for i in range(QUERIES)},
    }


def _numpy_ndcg(data: dict[str, Any]) -> float:
    """nDCG@10 of exact search with one relevant doc per query: 1 / log2(rank + 1) in the top 10."""
    scores = data["queries"] @ data["docs"].T
    ranks = (scores > scores[np.arange(QUERIES), np.arange(QUERIES)][:, None]).sum(axis=1) + 1
    return float(np.mean(np.where(ranks <= 10, 1 / np.log2(ranks + 1), 0.0)))


def _sweep_cells(results: Path, cache: Path) -> dict[str, float]:
    """An exact and an exhaustive-HNSW cell of MiniLM; their nDCG@10 read from mteb's files."""
    found = {}
    for search, params in (("faiss", None), ("faiss-hnsw", {"M": 8, "ef_search": 4096})):
        settings: dict[str, Any] = {"search": search}
        settings |= {"search_params": params} if params else {}
        sweep = parse_sweep(
            {
                "settings": settings,
                "models": [{"name": MINILM, "dims": [384]}],
                "tasks": [{"name": TASK, "max_samples": 60}],
            }
        )
        SweepRunner(sweep, RunOptions(results, cache, show_progress=False)).run()
    for path in results.rglob(f"{TASK}.json"):
        if "_embharness" not in path.parts:
            (row,) = json.loads(path.read_text())["scores"]["test"]
            found[path.parent.name] = row["ndcg_at_10"]
    return found


def _section_rows(markdown: str) -> list[list[str]]:
    section = markdown.split("## Approximate search", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_report_shows_bench_and_sweep_rows(tmp_path: Path) -> None:
    bench, data = _bench(), _synthetic()
    builds = [
        ("faiss-hnsw", {"M": 8, "ef_construction": 40}, "ef_search", (4, DOCS)),
        ("faiss-ivfpq", {"m": 8, "nbits": 8}, "nprobe", (2,)),
    ]
    rows = bench.ann_rows("synthetic", data, builds)
    results = tmp_path / "results"
    bench.write_rows(rows, [results / RESULTS_FILE])
    assert load_bench_rows(results) == json.loads(json.dumps(rows))

    exact, fast, exhaustive, ivf = rows
    assert exact["ndcg_at_10_exact"] == pytest.approx(_numpy_ndcg(data), abs=1e-9)
    assert exhaustive["params"]["ef_search"] == DOCS
    assert exhaustive["recall_at_10"] == 1.0 and exhaustive["ndcg_at_10_loss"] == 0.0
    assert 0 <= fast["recall_at_10"] <= 1 and 0 <= ivf["recall_at_10"] <= 1
    assert ivf["params"]["nbits"] == bench.pq_bits(DOCS)

    ndcg = _sweep_cells(results, tmp_path / "cache")
    (ann_folder,) = [name for name in ndcg if "search_faiss-hnsw" in name]
    files = build_report(results, tmp_path / "report", ci=CISettings(n_resamples=0))
    shown = _section_rows(files.markdown.read_text())
    assert "Approximate search" in files.html.read_text()

    assert len(shown) == len(rows) + 1  # the bench's rows, then the sweep's ANN cell
    table = [dict(zip(COLUMNS, cells, strict=True)) for cells in shown]
    for row, got in zip(rows, table, strict=False):
        assert got["recall@10"] == f"{row['recall_at_10']:.4f}"
        assert got["nDCG@10 exact → ANN"] == (
            f"{100 * row['ndcg_at_10_exact']:.2f} → {100 * row['ndcg_at_10']:.2f}"
        )
        assert got["build s"] == f"{row['build_s']:.2f}"
        assert got["p99 ms"] == f"{row['p99_ms']:.3f}"
        assert got["docs"] == f"{DOCS:,}"
    assert table[2]["recall@10"] == "1.0000" and table[2]["params"] == f"M=8 efc=40 efs={DOCS}"

    sweep, base = table[-1], ndcg["max_samples_60"]
    assert sweep["source"] == "sweep" and sweep["index"] == "faiss-hnsw"
    assert sweep["params"] == "M=8 efc=80 efs=4096" and ann_folder.endswith("efs4096")
    assert sweep["nDCG@10 exact → ANN"] == f"{100 * base:.2f} → {100 * ndcg[ann_folder]:.2f}"
    assert float(sweep["loss"]) == 0 and sweep["recall@10"] == sweep["p50 ms"] == "—"


def test_unreadable_bench_file_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / RESULTS_FILE
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps([{"corpus": "x"}]))
    with pytest.raises(HarnessError, match="not a list of ANN rows") as caught:
        load_bench_rows(tmp_path)
    assert "\n" not in str(caught.value) and "bench_ann.py" in str(caught.value)
    assert load_bench_rows(tmp_path / "elsewhere") == []
