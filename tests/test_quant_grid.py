"""The precision grid: quantisation equals numpy, grid points reuse the cache, float32 is plain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embharness.encoding.quantize import calibration_ranges, quantize
from embharness.errors import HarnessError
from embharness.report.retention import retention_frame, retention_section
from embharness.results.runs import load_runs
from embharness.results.schema import SCHEMA_VERSION, upgrade_record
from embharness.results.store import run_record_path
from embharness.run.binary_search import QuantizedSearchIndex
from embharness.run.options import CellOutcome, RunOptions
from embharness.run.runner import SweepRunner
from embharness.run.sweep import parse_sweep

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
GRID = ["float32", "float16", "int8", "ubinary", "binary-rescore"]


def _vectors(rows: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    return torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(b, dim=1).T


def test_int8_equals_numpy_with_corpus_ranges() -> None:
    corpus, queries = _vectors(50, 32, 0), _vectors(7, 32, 1)
    low, high = corpus.min(axis=0), corpus.max(axis=0)
    steps = (high - low) / 255
    want = ((queries - low) / steps - 128).astype(np.int8)
    got = quantize(queries, "int8", calibration_ranges(corpus))
    assert got.dtype == np.int8 and np.array_equal(got, want)
    index = QuantizedSearchIndex("int8")
    index.add_documents(corpus, [str(i) for i in range(50)])
    index.search(queries, 5, _cosine)
    index.search(queries, 5, _cosine)
    assert index.calibrations == 1  # once on the corpus, never per query call
    assert index.ranges is not None
    assert np.array_equal(index.ranges, np.vstack([low, high]))


def test_hamming_and_rescoring_equal_numpy() -> None:
    corpus, queries = _vectors(60, 64, 2), _vectors(5, 64, 3)
    bits_c, bits_q = corpus > 0, queries > 0
    assert np.array_equal(quantize(corpus, "ubinary"), np.packbits(bits_c, axis=1))
    hamming = (bits_q[:, None, :] != bits_c[None, :, :]).sum(axis=2)
    index = QuantizedSearchIndex("ubinary")
    index.add_documents(corpus, [str(i) for i in range(60)])
    scores, ids = index.search(queries, 10, _cosine)
    for q in range(5):
        assert sorted(-np.array(scores[q])) == sorted(hamming[q])[:10]
        assert [-hamming[q, i] for i in ids[q]] == scores[q]
    # Rescoring with every doc a candidate: float32 query · ±1 doc, exactly.
    rescore = QuantizedSearchIndex("binary-rescore", rescore_top_k=60)
    rescore.add_documents(corpus, [str(i) for i in range(60)])
    scores, ids = rescore.search(queries, 10, _cosine)
    dots = queries @ np.where(bits_c, 1.0, -1.0).astype(np.float32).T
    for q in range(5):
        assert ids[q] == list(np.argsort(-dots[q], kind="stable")[:10])
        assert scores[q] == pytest.approx(list(dots[q][ids[q]]), rel=1e-6)


def _metrics(path: Path) -> dict[str, object]:
    scores: dict[str, object] = json.loads(path.read_text())["scores"]
    return scores


def _run(root: Path, cache: Path, precisions: list[str]) -> list[CellOutcome]:
    sweep = parse_sweep(
        {
            "settings": {"precisions": precisions},
            "models": [{"name": MINILM, "dims": [384, 64]}],
            "tasks": [{"name": "HumanEvalRetrievalOffline", "max_samples": 40}],
        }
    )
    runner = SweepRunner(sweep, RunOptions(root, cache, show_progress=False))
    outcomes: list[CellOutcome] = runner.run()
    return outcomes


def test_grid_reuses_cache_and_float32_is_the_plain_run(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plain = _run(tmp_path / "plain", cache, ["float32"])
    grid = _run(tmp_path / "grid", cache, GRID)
    assert plain[0].record["cache"]["misses"] > 0  # the plain run filled the cache
    assert [(o.dim, o.precision) for o in grid] == [
        (dim, p) for p in GRID for dim in (384, 64) if p == "float32"
    ] + [(dim, p) for p in GRID[1:] for dim in (384, 64)]
    assert all(o.status == "ran" for o in grid)
    for outcome in grid:  # no grid point, and no cell of the second run, calls the model
        assert outcome.record["cache"]["misses"] == 0, outcome
    files = {
        p.relative_to(tmp_path / "grid"): p
        for p in (tmp_path / "grid").rglob("HumanEvalRetrievalOffline.json")
        if "_embharness" not in p.parts
    }
    folders = {p.parent.name for p in files}
    assert "embed_dim_64__max_samples_40__precision_int8" in folders
    assert "max_samples_40__precision_ubinary" in folders
    assert "max_samples_40__precision_binary-rescore__rescore_top_k_40" in folders
    assert len(files) == 10
    # float32 full dim: every metric equal to the plain run's
    full = next(rel for rel in files if rel.parent.name == "max_samples_40")
    assert _metrics(files[full]) == _metrics(tmp_path / "plain" / full)
    int8 = next(rel for rel in files if rel.parent.name.endswith("__precision_int8"))
    record = json.loads(run_record_path(files[int8]).read_text())
    assert record["settings"]["search"] == record["settings"]["precision"] == "int8"
    _check_retention(tmp_path / "grid", grid)
    scores = {o.precision: o.main_score for o in grid if o.dim == 384}
    assert scores["int8"] > 0.5 * scores["float32"] and scores["ubinary"] > 0.0


def _check_retention(root: Path, grid: list) -> None:
    """The report's retention rows: point ÷ float32 full dim, bytes, the Pareto front."""
    frame = retention_frame(load_runs(root)).set_index(["dim", "precision"])
    full = next(o.main_score for o in grid if (o.dim, o.precision) == (384, "float32"))
    for outcome in grid:
        row = frame.loc[(outcome.dim, outcome.precision)]
        assert row["retention"] == pytest.approx(outcome.main_score / full)
    assert frame.loc[(384, "float32"), "bytes"] == 1536 and frame.loc[(64, "ubinary"), "bytes"] == 8
    # The front, by brute force: a point is on it iff no other point dominates it.
    points = list(zip(frame["bytes"], frame["retention"], strict=True))
    for (size, kept), on_front in zip(points, frame["pareto"], strict=True):
        dominated = any(b <= size and r >= kept and (b, r) != (size, kept) for b, r in points)
        assert on_front == (not dominated)
    assert frame["pareto"].any()
    section = retention_section(load_runs(root), root / "plots")
    assert section[0].title == "Precision grid" and section[0].plots[0].png.is_file()
    assert list(section[0].tables[1].frame["precision"]) == ["int8", "binary-rescore"]


def test_unknown_precision_is_a_one_line_error() -> None:
    with pytest.raises(HarnessError, match="unknown precision 'int4'"):
        parse_sweep({"settings": {"precisions": ["int4"]}, "models": [MINILM], "tasks": ["X"]})


def test_version_6_record_reads_with_precision_none() -> None:
    """Schema 7: a record written before the grid has no precision; it reads as None."""
    upgraded = upgrade_record({"schema_version": 6, "settings": {"search": "mteb"}})
    assert upgraded["schema_version"] == SCHEMA_VERSION == 12
    assert upgraded["settings"]["precision"] is None
    assert upgraded["settings"]["rescore_top_k"] is None
